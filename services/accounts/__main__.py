"""python -m services.accounts"""

from services.accounts.app import main

main()

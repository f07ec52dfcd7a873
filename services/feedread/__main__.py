"""python -m services.feedread"""

from services.feedread.app import main

main()

"""python -m services.publishing"""

from services.publishing.app import main

main()

"""python -m services.notifications"""

from services.notifications.app import main

main()

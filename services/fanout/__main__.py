"""python -m services.fanout"""

from services.fanout.app import main

main()

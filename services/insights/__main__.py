"""python -m services.insights"""

from services.insights.app import main

main()

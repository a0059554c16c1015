import sys

from services.router.reports import main

sys.exit(main())

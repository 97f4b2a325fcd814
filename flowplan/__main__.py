from flowplan.cli import main

raise SystemExit(main())

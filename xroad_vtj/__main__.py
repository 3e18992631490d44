from xroad_vtj.cli import main

raise SystemExit(main())

"""The router's HTTP side for people: the JSON API (`api`), the unit inbox (`inbox`) and its sessions
(`inbox_sessions`). Handlers are module-level; their dependencies come from services.router.dependencies."""

# Make targets. `make up` uses Docker Compose when a Docker engine answers,
# else the Docker-free `npm start`.
PORT ?= 8001
BASE ?= http://localhost:$(PORT)
COMPOSE = docker compose -f docker-compose.local.yml --env-file .env

.PHONY: up down logs health ready reset-db test fmt lint typecheck build

# Compose needs .env: the stack's host ports and secrets (cp .env.example .env; docs/LOCAL_DEV.md).
up:
	@if docker info >/dev/null 2>&1; then \
		test -f .env || { echo "make up: no .env; run: cp .env.example .env  (then see docs/LOCAL_DEV.md)"; exit 1; }; \
		$(COMPOSE) up -d --wait; \
	else npm start; fi

down:
	@if docker info >/dev/null 2>&1; then $(COMPOSE) down; else pkill -INT -f "local/start.ts" || true; fi

logs:
	@if docker info >/dev/null 2>&1; then $(COMPOSE) logs -f; else echo "npm start logs to its own terminal"; fi

health:
	@curl -fsS $(BASE)/health && echo

ready:
	@curl -sS $(BASE)/ready && echo

reset-db:
	npm run migrate -- --reset

test:
	npm test

fmt:
	npm run fmt

lint:
	npm run lint

typecheck:
	npm run typecheck

build:
	npm run build

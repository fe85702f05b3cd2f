#!/bin/sh
# `npm run db:generate`: regenerates packages/db/generated/prisma from prisma/schema.prisma offline.
# `prisma generate` never runs the schema engine, but the CLI insists that one exists: when the native
# engine has not been downloaded, point it at a placeholder file.
set -e
cd "$(dirname "$0")/../../.."
placeholder="${TMPDIR:-/tmp}/arcal-prisma-engine-placeholder"
[ -e "$placeholder" ] || : > "$placeholder"
PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$placeholder}" exec npx --no-install prisma generate "$@"

# API and CPU worker image (one image, the command picks the role). Build from the repository root.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY packages ./packages
COPY apps ./apps
COPY workers ./workers
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json tsconfig.json ./
# The Prisma client is committed (packages/db/generated); migrations run through the wasm schema engine,
# so no engine download is needed at build or run time.
RUN npm ci --include=dev && npm cache clean --force
USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]

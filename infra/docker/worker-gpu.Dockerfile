# GPU worker: CUDA 11.8 + cuDNN 8 (what @tensorflow/tfjs-node-gpu 4.22 links against) with Node 20.
# Its install script downloads libtensorflow for the GPU, so it is approved explicitly here.
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
ARG NODE_MAJOR=20
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg python3 build-essential \
 && curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash - \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY packages ./packages
COPY apps ./apps
COPY workers ./workers
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json tsconfig.json ./
RUN npm ci --include=dev \
 && npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0 \
 && npm install-scripts approve @tensorflow/tfjs-node-gpu \
 && npm rebuild @tensorflow/tfjs-node-gpu \
 && npm cache clean --force
ENV ARCAL_BACKEND=tensorflow
USER node
CMD ["node", "workers/bin/arcal-worker.js", "--queues", "attack,train,evaluate", "--concurrency", "1"]

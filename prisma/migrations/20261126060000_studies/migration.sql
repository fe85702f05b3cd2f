-- AlterTable
ALTER TABLE "experiments" ADD COLUMN     "study_id" UUID;

-- CreateTable
CREATE TABLE "studies" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "document" JSONB NOT NULL,
    "points" JSONB NOT NULL,
    "estimate" JSONB NOT NULL,
    "idempotency_key" TEXT,
    "request_hash" CHAR(64),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "studies_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "experiments_study_id_idx" ON "experiments"("study_id");

-- CreateIndex
CREATE INDEX "studies_project_id_created_at_idx" ON "studies"("project_id", "created_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "studies_project_id_idempotency_key_key" ON "studies"("project_id", "idempotency_key");

-- AddForeignKey
ALTER TABLE "experiments" ADD CONSTRAINT "experiments_study_id_fkey" FOREIGN KEY ("study_id") REFERENCES "studies"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "studies" ADD CONSTRAINT "studies_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

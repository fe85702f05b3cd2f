-- CreateTable
CREATE TABLE "stored_objects" (
    "key" TEXT NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "size" BIGINT NOT NULL,
    "content_type" TEXT NOT NULL DEFAULT 'application/octet-stream',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "stored_objects_pkey" PRIMARY KEY ("key")
);

-- Artifacts recorded before the store existed are complete files in the local folder: record them as objects
-- so that downloads, which read recorded objects only, keep serving them.
INSERT INTO "stored_objects" ("key", "sha256", "size", "content_type", "created_at", "updated_at")
SELECT DISTINCT ON ("path") "path", "sha256", "size", "content_type", "created_at", "created_at"
FROM "artifacts"
ORDER BY "path", "created_at" DESC
ON CONFLICT ("key") DO NOTHING;

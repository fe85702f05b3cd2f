-- Where an object's bytes are stored, when not under its key: with S3 every upload goes to a name of its own and
-- the record points at it, so a writer killed before recording (or refused as a late one) never replaces the
-- bytes that a record points to. NULL (rows written before, and the local folder) means the key itself.
ALTER TABLE "stored_objects" ADD COLUMN "location" TEXT;

-- The sweep asks which stored names a record points to.
CREATE INDEX "stored_objects_location_idx" ON "stored_objects"("location");

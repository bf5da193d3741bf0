-- CreateTable
CREATE TABLE "apis" (
    "id" UUID NOT NULL,
    "identifier" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "access_token_ttl_seconds" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "apis_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_scopes" (
    "api_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_scopes_pkey" PRIMARY KEY ("api_id","name")
);

-- CreateIndex
CREATE UNIQUE INDEX "apis_identifier_key" ON "apis"("identifier");

-- AddForeignKey
ALTER TABLE "api_scopes" ADD CONSTRAINT "api_scopes_api_id_fkey" FOREIGN KEY ("api_id") REFERENCES "apis"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Data: until now the one API was the task API, named by every client's `resources`. Each resource a
-- client holds becomes a registered API with the task API's four scopes, so existing clients keep
-- exactly what they had.
INSERT INTO "apis" ("id", "identifier", "name", "updated_at")
SELECT gen_random_uuid(), "used"."resource", 'Task API', CURRENT_TIMESTAMP
FROM (SELECT DISTINCT unnest("resources") AS "resource" FROM "clients") AS "used";

INSERT INTO "api_scopes" ("api_id", "name", "description")
SELECT "apis"."id", "scope"."name", "scope"."description"
FROM "apis" CROSS JOIN (VALUES
  ('tasks:read', 'See your tasks'),
  ('tasks:write', 'Create, change and complete your tasks'),
  ('tasks:admin', 'Manage everyone’s tasks (administrators only)'),
  ('tasks:work', 'Work on queued tasks as a service')
) AS "scope" ("name", "description");

-- CreateTable
CREATE TABLE "security_events" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" TEXT NOT NULL,
    "user_id" UUID,
    "actor" TEXT NOT NULL,
    "ip" TEXT,
    "detail" JSONB,

    CONSTRAINT "security_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "security_events_user_id_at_idx" ON "security_events"("user_id", "at");

-- CreateIndex
CREATE INDEX "security_events_at_idx" ON "security_events"("at");

-- Append-only: the security log can be added to, never changed or pruned through the application.
-- (Rules rather than a PL/pgSQL trigger: the migration runner splits scripts on semicolons.)
CREATE RULE "security_events_no_update" AS ON UPDATE TO "security_events" DO INSTEAD NOTHING;
CREATE RULE "security_events_no_delete" AS ON DELETE TO "security_events" DO INSTEAD NOTHING;

-- CreateTable
CREATE TABLE "api_users" (
    "sub" TEXT NOT NULL,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_users_pkey" PRIMARY KEY ("sub")
);

-- Everyone who already owns a task called the API with a verified token: they are its users.
-- (Assignees are not carried over: before this table, an assignee was never checked.)
INSERT INTO "api_users" ("sub", "first_seen_at") SELECT "owner_sub", MIN("created_at") FROM "tasks" GROUP BY "owner_sub" ON CONFLICT DO NOTHING;

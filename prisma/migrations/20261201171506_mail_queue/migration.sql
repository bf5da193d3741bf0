-- CreateTable
CREATE TABLE "mail_queue" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "transport" TEXT NOT NULL,
    "sealed" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "claimed_until" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mail_queue_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "mail_queue_next_attempt_at_idx" ON "mail_queue"("next_attempt_at");

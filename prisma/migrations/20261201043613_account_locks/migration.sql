-- CreateTable
CREATE TABLE "account_locks" (
    "scope" TEXT NOT NULL,
    "locked_until" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_locks_pkey" PRIMARY KEY ("scope")
);

-- CreateIndex
CREATE INDEX "account_locks_locked_until_idx" ON "account_locks"("locked_until");

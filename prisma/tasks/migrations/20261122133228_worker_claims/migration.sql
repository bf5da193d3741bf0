-- DropIndex
DROP INDEX "tasks_assignee_sub_idx";

-- DropIndex
DROP INDEX "tasks_owner_sub_idx";

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "claimed_at" TIMESTAMPTZ(3),
ADD COLUMN     "claimed_by" TEXT,
ADD COLUMN     "completed_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "tasks_owner_sub_created_at_idx" ON "tasks"("owner_sub", "created_at");

-- CreateIndex
CREATE INDEX "tasks_assignee_sub_created_at_idx" ON "tasks"("assignee_sub", "created_at");

-- CreateIndex
CREATE INDEX "tasks_status_created_at_idx" ON "tasks"("status", "created_at");

-- AlterTable
ALTER TABLE "api_users" ADD COLUMN     "email" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "api_users_email_key" ON "api_users"("email");

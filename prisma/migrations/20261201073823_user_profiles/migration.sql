-- AlterTable
ALTER TABLE "users" ADD COLUMN     "family_name" TEXT,
ADD COLUMN     "given_name" TEXT,
ADD COLUMN     "locale" TEXT,
ADD COLUMN     "name" TEXT,
ADD COLUMN     "picture" TEXT,
ADD COLUMN     "preferred_username" TEXT,
ADD COLUMN     "profile_updated_at" TIMESTAMPTZ(3),
ADD COLUMN     "zoneinfo" TEXT;

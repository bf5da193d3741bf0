-- AlterTable
ALTER TABLE "apis" ADD COLUMN     "dpop_required" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "role_limited" BOOLEAN NOT NULL DEFAULT true;

-- CreateTable
CREATE TABLE "roles" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "is_default" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "roles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "role_permissions" (
    "role_id" UUID NOT NULL,
    "api_id" UUID NOT NULL,
    "scope_name" TEXT NOT NULL,

    CONSTRAINT "role_permissions_pkey" PRIMARY KEY ("role_id","api_id","scope_name")
);

-- CreateTable
CREATE TABLE "user_roles" (
    "user_id" UUID NOT NULL,
    "role_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_roles_pkey" PRIMARY KEY ("user_id","role_id")
);

-- CreateTable
CREATE TABLE "client_roles" (
    "client_id" TEXT NOT NULL,
    "role_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "client_roles_pkey" PRIMARY KEY ("client_id","role_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "roles_name_key" ON "roles"("name");

-- CreateIndex
CREATE INDEX "role_permissions_api_id_scope_name_idx" ON "role_permissions"("api_id", "scope_name");

-- CreateIndex
CREATE INDEX "user_roles_role_id_idx" ON "user_roles"("role_id");

-- CreateIndex
CREATE INDEX "client_roles_role_id_idx" ON "client_roles"("role_id");

-- AddForeignKey
ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_api_id_scope_name_fkey" FOREIGN KEY ("api_id", "scope_name") REFERENCES "api_scopes"("api_id", "name") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "client_roles" ADD CONSTRAINT "client_roles_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "client_roles" ADD CONSTRAINT "client_roles_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Data: APIs registered before roles existed had no role limits, and they keep none until an
-- operator turns them on (`latchkey api update URI --role-limited`). New APIs are role-limited.
-- (No semicolon in these comments: Prisma's engine splits a script at every one.)
UPDATE "apis" SET "role_limited" = false;

-- The two roles the `users.role` column held become rows, and every account keeps the one it had,
-- so the same `roles` claim in its tokens. `user` is the default role of new accounts.
INSERT INTO "roles" ("id", "name", "description", "is_default", "updated_at") VALUES
  (gen_random_uuid(), 'user', 'Everyone with an account', true, CURRENT_TIMESTAMP),
  (gen_random_uuid(), 'admin', 'Administrators', false, CURRENT_TIMESTAMP);

INSERT INTO "user_roles" ("user_id", "role_id")
SELECT "users"."id", "roles"."id" FROM "users" JOIN "roles" ON "roles"."name" = "users"."role"::text;

-- AlterTable
ALTER TABLE "users" DROP COLUMN "role";

-- DropEnum
DROP TYPE "Role";


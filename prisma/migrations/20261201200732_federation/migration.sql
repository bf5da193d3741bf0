-- CreateEnum
CREATE TYPE "UpstreamKind" AS ENUM ('oidc', 'github');

-- CreateTable
CREATE TABLE "upstream_providers" (
    "id" UUID NOT NULL,
    "slug" TEXT NOT NULL,
    "kind" "UpstreamKind" NOT NULL,
    "button_label" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "issuer" TEXT NOT NULL,
    "api_base" TEXT,
    "client_id" TEXT NOT NULL,
    "client_secret_sealed" TEXT NOT NULL,
    "scopes" TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "allow_sign_up" BOOLEAN NOT NULL DEFAULT false,
    "allowed_domains" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "trust_email_verified" BOOLEAN NOT NULL DEFAULT false,
    "trust_mfa" BOOLEAN NOT NULL DEFAULT false,
    "claim_mappings" JSONB NOT NULL DEFAULT '[]',
    "role_mappings" JSONB NOT NULL DEFAULT '[]',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "upstream_providers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "federated_identities" (
    "id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "subject" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "email" TEXT,
    "last_sign_in_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "federated_identities_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "upstream_providers_slug_key" ON "upstream_providers"("slug");

-- CreateIndex
CREATE INDEX "federated_identities_user_id_idx" ON "federated_identities"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "federated_identities_provider_id_subject_key" ON "federated_identities"("provider_id", "subject");

-- AddForeignKey
ALTER TABLE "federated_identities" ADD CONSTRAINT "federated_identities_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "upstream_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "federated_identities" ADD CONSTRAINT "federated_identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

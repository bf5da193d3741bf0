"""An independent relying party for Latchkey, written with Python's Authlib (Debian's python3-authlib).

It plays both the application (Authlib's OAuth2Session) and, for the sign-in step only, the person's
browser (plain requests, filling in the sign-in form). It prints one JSON object with what it saw;
the Node test that starts it asserts on that. Settings come from the environment.
"""

import json
import os
import re
import sys
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

issuer = os.environ["ISSUER"]
redirect_uri = os.environ["REDIRECT_URI"]
metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
result = {"issuer": metadata["issuer"]}


def sign_in_as_browser(authorization_url):
    """Follows the authorization request like a browser, signs in, and returns the redirect to the client."""
    browser = requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=10)
    for _ in range(10):
        location = response.headers.get("location")
        if location is None:
            break
        if location.startswith(redirect_uri):
            return location
        response = browser.get(urljoin(response.url, location), allow_redirects=False, timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)
    action = re.search(r'<form method="post" action="([^"]+/login)"', response.text).group(1)
    response = browser.post(
        urljoin(issuer, action),
        data={"email": os.environ["EMAIL"], "password": os.environ["PASSWORD"], "csrf": csrf},
        headers={"Origin": issuer},
        allow_redirects=False,
        timeout=10,
    )
    for _ in range(10):
        location = response.headers.get("location")
        if location is None:
            raise RuntimeError(f"sign-in stopped at {response.url} with {response.status_code}")
        if location.startswith(redirect_uri):
            return location
        response = browser.get(urljoin(response.url, location), allow_redirects=False, timeout=10)
    raise RuntimeError("too many redirects")


# Authorization Code with PKCE (S256), a confidential web client.
web = OAuth2Session(
    os.environ["WEB_ID"],
    os.environ["WEB_SECRET"],
    # First-party apps get a refresh token without offline_access (see docs/issuer.md); Authlib re-sends this scope on refresh.
    scope="openid email",
    redirect_uri=redirect_uri,
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
verifier = generate_token(64)
nonce = generate_token(20)
authorization_url, state = web.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
callback = sign_in_as_browser(authorization_url)
token = web.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state)
keys = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
claims = jwt.decode(token["id_token"], keys, claims_options={"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": os.environ["WEB_ID"]}, "nonce": {"essential": True, "value": nonce}})
claims.validate()
userinfo = web.get(metadata["userinfo_endpoint"]).json()
result["code_flow"] = {"token_type": token["token_type"], "has_refresh_token": "refresh_token" in token, "id_token_sub": claims.get("sub"), "id_token_acr": claims.get("acr"), "userinfo_email": userinfo.get("email")}

# Refresh: rotates, and the new refresh token differs from the old.
refreshed = web.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
result["refresh"] = {"rotated": refreshed["refresh_token"] != token["refresh_token"], "has_access_token": "access_token" in refreshed}

# Introspection of its own refresh token.
introspected = web.introspect_token(metadata["introspection_endpoint"], token=refreshed["refresh_token"]).json()
result["introspection"] = {"active": introspected.get("active"), "client_id": introspected.get("client_id")}

# Client credentials, a service client.
service = OAuth2Session(os.environ["SERVICE_ID"], os.environ["SERVICE_SECRET"], scope="tasks:work", token_endpoint_auth_method="client_secret_basic")
service_token = service.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
result["client_credentials"] = {"token_type": service_token["token_type"], "scope": service_token.get("scope")}

json.dump(result, sys.stdout)

"""An API on the pipeline harness's store and clock, and installers signed in to it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from gateway.people.models import Role
from tests.support.harness import Harness
from tests.support.people import add_person

PASSWORD = "installer-pass-1"


PARK = "c-gongye"  # the industrial park community: node-gongye-1's devices


@dataclass
class Desk:
    client: TestClient
    harness: Harness

    def sign_in(self, person_id: str, roles: tuple[Role, ...], areas: tuple[str, ...]) -> dict[str, str]:
        add_person(self.harness.sessions, person_id, roles, areas, PASSWORD)
        signed = self.client.post("/api/v1/auth/sign-in", json={"username": person_id, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {signed.json()['access_token']}"}

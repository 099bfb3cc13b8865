"""Test data built through the services, as a user would."""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update

from app.extensions import db
from app.models import Donor, Household, Region, Supermarket, User
from app.services.people.accounts import create_user, issue_token
from app.services.clock import local_today
from app.services.people.households import create_household, update_household
from app.services.people.regions import create_region, create_supermarket

PASSWORD = "correct horse battery"


@dataclass
class World:
    county: Region
    east: Region        # township 东岭镇
    west: Region        # township 西坡乡
    v1: Region          # 东坪村 (east)
    v2: Region          # 石门村 (east)
    v3: Region          # 西沟村 (west)
    sm_east: Supermarket
    sm_west: Supermarket
    donor: Donor
    users: dict = field(default_factory=dict)
    households: dict = field(default_factory=dict)

    def token(self, name: str) -> str:
        token, _ = issue_token(self.users[name])
        db.session.commit()
        return token

    def headers(self, name: str) -> dict:
        return {"Authorization": f"Bearer {self.token(name)}"}


def build_world() -> World:
    county = create_region(None, {"name": "青山县", "level": "county"})
    east = create_region(None, {"name": "东岭镇", "level": "township", "parent_id": county.id})
    west = create_region(None, {"name": "西坡乡", "level": "township", "parent_id": county.id})
    v1 = create_region(None, {"name": "东坪村", "level": "village", "parent_id": east.id})
    v2 = create_region(None, {"name": "石门村", "level": "village", "parent_id": east.id})
    v3 = create_region(None, {"name": "西沟村", "level": "village", "parent_id": west.id})
    sm_east = create_supermarket(None, {"name": "东岭镇爱心超市", "region_id": east.id})
    sm_west = create_supermarket(None, {"name": "西坡乡爱心超市", "region_id": west.id})
    donor = Donor(name="青山农商银行", kind="company")
    db.session.add(donor)
    db.session.flush()
    w = World(county, east, west, v1, v2, v3, sm_east, sm_west, donor)
    specs = {
        "admin": {"role": "admin"},
        "cadre": {"role": "cadre", "region_id": county.id},
        "cadre_west": {"role": "cadre", "region_id": west.id},
        "staff": {"role": "staff", "region_id": v1.id},
        "staff_east": {"role": "staff", "region_id": east.id},
        "staff_west": {"role": "staff", "region_id": v3.id},
        "volunteer": {"role": "volunteer", "supermarket_ids": [sm_east.id]},
        "volunteer_west": {"role": "volunteer", "supermarket_ids": [sm_west.id]},
        "donor": {"role": "donor", "donor_id": donor.id},
    }
    for name, spec in specs.items():
        w.users[name] = create_user(None, {"username": name, "password": PASSWORD, **spec})
    admin = w.users["admin"]
    w.households["v1a"] = create_household(admin, {"village_id": v1.id, "head_name": "杜玉梅", "members": 4})
    w.households["v1b"] = create_household(admin, {"village_id": v1.id, "head_name": "王喆", "members": 2})
    w.households["v2a"] = create_household(admin, {"village_id": v2.id, "head_name": "钟秀英", "members": 7})
    w.households["v3a"] = create_household(admin, {"village_id": v3.id, "head_name": "李堃", "members": 3})
    db.session.commit()
    return w


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def count(model) -> int:
    from sqlalchemy import func, select
    return db.session.scalar(select(func.count()).select_from(model))


__all__ = ["World", "build_world", "login", "count", "Household", "User"]


def exit_household(world: World, key: str, days_ago: int) -> Household:
    """The world's household `key` exited `days_ago` days ago (with a phone to anonymise)."""
    hh = world.households[key]
    update_household(world.users["admin"], hh.id, {"status": "exited", "phone": "13912345678"})
    db.session.commit()
    db.session.execute(update(Household).where(Household.id == hh.id)
                       .values(exited_on=local_today() - timedelta(days=days_ago)))
    db.session.commit()
    return hh

"""JSON of administration: user accounts and the administrative changes (操作日志), with the
Chinese names the pages show."""

from __future__ import annotations

from typing import Any

from evaluation_hub.admin.changes import AdminChange, ChangeLog
from evaluation_hub.admin.users import UserAccount
from evaluation_hub.api.serialize import iso

__all__ = ["CHANGE_NAMES", "FIELD_NAMES", "change_log_json", "user_json"]

#: what each kind of administrative change is called on the audit page
CHANGE_NAMES = {
    "admin.venue_added": "登记场地",
    "admin.venue_changed": "修改场地",
    "admin.user_added": "新增用户",
    "admin.user_disabled": "停用用户",
    "admin.user_enabled": "启用用户",
    "admin.password_reset": "重置密码",
    "admin.expert_added": "专家入库",
    "directory.seat_created": "发布工位",
    "directory.seat_changed": "修改工位",
}
#: the Chinese names of the fields a change names
FIELD_NAMES = {
    "code": "代码",
    "name": "名称",
    "region_code": "行政区划代码",
    "supervising_department": "监督部门",
    "contact_name": "联系人",
    "contact_phone": "联系电话",
    "latitude": "纬度",
    "longitude": "经度",
    "enabled": "启用",
    "label": "工位编号",
    "room": "房间",
    "capabilities": "设备能力",
    "status": "状态",
    "shared": "共享",
    "username": "用户名",
    "display_name": "显示名称",
    "role": "角色",
    "venue_code": "场地",
    "active": "启用",
}


def user_json(u: UserAccount) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "role_name": u.role_name,
        "venue_id": u.venue_id,
        "venue_code": u.venue_code,
        "venue_name": u.venue_name,
        "active": u.active,
    }


def _change_json(c: AdminChange) -> dict[str, Any]:
    changed = c.payload.get("changed")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if isinstance(changed, dict):
        for name, values in changed.items():
            if isinstance(values, dict):
                before[name], after[name] = values.get("from"), values.get("to")
    else:
        after = {k: v for k, v in c.payload.items() if not k.endswith("_id")}
    return {
        "seq": c.seq,
        "at": iso(c.at),
        "actor": c.actor,
        "kind": c.kind,
        "kind_name": CHANGE_NAMES.get(c.kind, c.kind),
        "subject": c.subject,
        "venue_code": c.venue_code,
        "before": before,
        "after": after,
        "field_names": {k: FIELD_NAMES.get(k, k) for k in {**before, **after}},
    }


def change_log_json(log: ChangeLog) -> dict[str, Any]:
    return {
        "venue_code": log.venue_code,
        "changes": [_change_json(c) for c in log.changes],
        "next_before": log.next_before,
    }

"""Typed settings of the ``survivorship`` stage (section ``survivorship:`` of the run config).

Which value of an attribute survives into ``gold.golden_profiles`` is decided per *unit*: a
single attribute, or a group of attributes that survive together from one record (the address
block: street, postal code and city of the same record, never a street from one record and a
city from another). Every unit has a rule; the default is ``most_recent``.

Examples:
    ```yaml
    survivorship:
      default_rule: most_recent
      source_priority: [ecommerce, crm, stores]   # used by source_priority rules without sources
      rules:
        - {attribute: birth_date, rule: most_frequent}
        - {attribute: email, rule: source_priority, sources: [ecommerce, crm]}
        - {attribute: address, rule: most_complete}     # a group name
    ```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rule = Literal["most_recent", "source_priority", "most_frequent", "most_complete"]

#: Attributes of a golden profile that survive from person records, in column order.
#: ``email_raw`` (the address as delivered, for contact) and ``address_valid`` (the
#: validity flag of the address block) are companions: they must survive with ``email``
#: and ``address_line1`` respectively.
SURVIVING_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "email",
    "email_raw",
    "phone",
    "mobile",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "region",
    "country",
    "address_valid",
)

#: companion -> the attribute it must survive with (same group).
COMPANIONS: dict[str, str] = {"email_raw": "email", "address_valid": "address_line1"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributeGroup(_Model):
    """Attributes that survive together, all from the same record.

    Attributes:
        name: the unit's name, usable in ``rules[].attribute`` (a member's name works too).
        attributes: the members, in :data:`SURVIVING_ATTRIBUTES`.
        required: members a record must all have (non-null) to rank before records that
            have only some members (a record with a city but no street loses to a full address).
        valid_flag: a boolean member; records where it is false rank after the others. It is
            not a value: it counts neither for "has a value" nor for completeness.
        carried: members that ride along with the record chosen for the others but are not
            values of their own (``email_raw`` rides with ``email``): like ``valid_flag`` they
            count neither for "has a value" nor for completeness or frequency.
    """

    name: str
    attributes: list[str] = Field(min_length=1)
    required: list[str] = Field(default_factory=list)
    valid_flag: str | None = None
    carried: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _members(self) -> AttributeGroup:
        unknown = sorted(set(self.attributes) - set(SURVIVING_ATTRIBUTES))
        if unknown:
            raise ValueError(
                f"group {self.name!r}: unknown attribute(s) {unknown}; "
                f"expected some of {list(SURVIVING_ATTRIBUTES)}"
            )
        if len(set(self.attributes)) != len(self.attributes):
            raise ValueError(f"group {self.name!r}: duplicate attributes")
        outside = sorted(set(self.required) - set(self.attributes))
        if outside:
            raise ValueError(f"group {self.name!r}: required {outside} are not members")
        if self.valid_flag is not None and self.valid_flag not in self.attributes:
            raise ValueError(f"group {self.name!r}: valid_flag {self.valid_flag!r} is not a member")
        if self.valid_flag is not None and self.valid_flag in self.required:
            raise ValueError(f"group {self.name!r}: valid_flag cannot be required")
        outside = sorted(set(self.carried) - set(self.attributes))
        if outside:
            raise ValueError(f"group {self.name!r}: carried {outside} are not members")
        if set(self.carried) & set(self.required):
            raise ValueError(f"group {self.name!r}: a carried attribute cannot be required")
        if len(self.value_attributes) == 0:
            raise ValueError(f"group {self.name!r}: needs at least one value attribute")
        return self

    @property
    def value_attributes(self) -> list[str]:
        """Members that carry a value (all but the validity flag and carried members)."""
        return [a for a in self.attributes if a != self.valid_flag and a not in self.carried]


class AttributeRule(_Model):
    """The survivorship rule of one attribute or group.

    Attributes:
        attribute: an attribute of :data:`SURVIVING_ATTRIBUTES` or a group name; naming a
            grouped attribute sets the rule of its whole group.
        rule: ``most_recent`` (source ``updated_at``), ``source_priority``, ``most_frequent``
            or ``most_complete``.
        sources: for ``source_priority``: source names, best first (default: the stage's
            ``source_priority``). Sources not listed rank after the listed ones.
    """

    attribute: str
    rule: Rule
    sources: list[str] = Field(default_factory=list)


def _default_groups() -> list[AttributeGroup]:
    return [
        AttributeGroup(
            name="address",
            attributes=[
                "address_line1",
                "address_line2",
                "postal_code",
                "city",
                "region",
                "country",
                "address_valid",
            ],
            required=["address_line1"],
            valid_flag="address_valid",
        ),
        AttributeGroup(name="email", attributes=["email", "email_raw"], carried=["email_raw"]),
    ]


def _default_rules() -> list[AttributeRule]:
    return [AttributeRule(attribute="birth_date", rule="most_frequent")]


class Unit(_Model):
    """A resolved survivorship unit (what :meth:`SurvivorshipSettings.units` returns)."""

    name: str
    attributes: list[str]
    value_attributes: list[str]
    required: list[str]
    valid_flag: str | None
    rule: Rule
    sources: list[str]


class SurvivorshipSettings(BaseModel):
    """Settings of the survivorship stage. Defaults live here; YAML overrides them.

    Attributes:
        default_rule: the rule of every unit without an entry in ``rules``.
        source_priority: default source order of ``source_priority`` rules, best first.
        groups: attributes that survive together (default: the address block, and
            ``email`` with ``email_raw``).
        rules: per-attribute (or per-group) overrides of ``default_rule``.
    """

    model_config = ConfigDict(extra="forbid")

    default_rule: Rule = "most_recent"
    source_priority: list[str] = Field(default_factory=list)
    groups: list[AttributeGroup] = Field(default_factory=_default_groups)
    rules: list[AttributeRule] = Field(default_factory=_default_rules)

    @model_validator(mode="after")
    def _consistent(self) -> SurvivorshipSettings:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError("groups: duplicate group names")
        owner: dict[str, str] = {}
        for group in self.groups:
            for attr in group.attributes:
                if attr in owner:
                    raise ValueError(
                        f"groups: attribute {attr!r} is in both {owner[attr]!r} and {group.name!r}"
                    )
                owner[attr] = group.name
            if group.name in SURVIVING_ATTRIBUTES and group.name not in group.attributes:
                raise ValueError(
                    f"groups: group name {group.name!r} is an attribute outside the group"
                )
        for companion, anchor in COMPANIONS.items():
            if companion not in owner or owner.get(anchor) != owner[companion]:
                raise ValueError(
                    f"groups: {companion!r} must be in the same group as {anchor!r} "
                    "(it describes that value)"
                )
        seen: dict[str, str] = {}
        for rule in self.rules:
            unit = self._unit_name(rule.attribute)
            if unit in seen:
                raise ValueError(
                    f"rules: {rule.attribute!r} and {seen[unit]!r} both set the rule of {unit!r}"
                )
            seen[unit] = rule.attribute
            if rule.rule == "source_priority" and not (rule.sources or self.source_priority):
                raise ValueError(
                    f"rules: {rule.attribute!r}: source_priority needs sources "
                    "(or survivorship.source_priority)"
                )
        if self.default_rule == "source_priority" and not self.source_priority:
            raise ValueError("default_rule source_priority needs survivorship.source_priority")
        return self

    def _unit_name(self, attribute: str) -> str:
        for group in self.groups:
            if attribute == group.name or attribute in group.attributes:
                return group.name
        if attribute not in SURVIVING_ATTRIBUTES:
            raise ValueError(
                f"rules: unknown attribute {attribute!r}; expected a group "
                f"({[g.name for g in self.groups]}) or one of {list(SURVIVING_ATTRIBUTES)}"
            )
        return attribute

    def units(self) -> list[Unit]:
        """Every survivorship unit with its resolved rule, in attribute column order."""
        rules = {self._unit_name(r.attribute): r for r in self.rules}
        out: list[Unit] = []
        done: set[str] = set()
        for attr in SURVIVING_ATTRIBUTES:
            group = next((g for g in self.groups if attr in g.attributes), None)
            name = group.name if group else attr
            if name in done:
                continue
            done.add(name)
            rule = rules.get(name)
            out.append(
                Unit(
                    name=name,
                    attributes=group.attributes if group else [attr],
                    value_attributes=group.value_attributes if group else [attr],
                    required=group.required if group else [],
                    valid_flag=group.valid_flag if group else None,
                    rule=rule.rule if rule else self.default_rule,
                    sources=(rule.sources if rule and rule.sources else self.source_priority),
                )
            )
        return out

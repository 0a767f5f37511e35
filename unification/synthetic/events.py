"""Event extracts of a block: orders and lines, store tickets and lines, web events, newsletter
events and call-centre interactions, each tied to the person records that produced them.

Online purchases go to the e-commerce account that existed at purchase time (a duplicate
account takes most orders once it exists); store purchases carry the loyalty card valid at
that time, unless the card was not scanned (anonymous ticket). Walk-in shoppers without a
card and cookies that never log in add anonymous activity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from unification.synthetic import activity, vocab
from unification.synthetic.activity import World
from unification.synthetic.corrupt import NA
from unification.synthetic.persons import DAY, YEAR
from unification.synthetic.sources import Ctx, Records, Subscriptions, ts_text


def _account_at(
    rng: np.random.Generator, rec: Records, n: int, who: np.ndarray, ts: np.ndarray, p_latest: float
) -> np.ndarray:
    """Record position valid for each (person, time): the later record with ``p_latest``.

    Returns -1 where the person had no record yet at that time.
    """
    first = np.full(n, -1)
    second = np.full(n, -1)
    for j in range(len(rec) - 1, -1, -1):  # records are sorted by creation time
        second[rec.pi[j]] = first[rec.pi[j]]
        first[rec.pi[j]] = j
    a, b = first[who], second[who]
    ok_a = (a >= 0) & (rec.created[np.maximum(a, 0)] <= ts)
    ok_b = (b >= 0) & (rec.created[np.maximum(b, 0)] <= ts)
    use_b = ok_b & (~ok_a | (rng.random(len(who)) < p_latest))
    return np.where(use_b, b, np.where(ok_a, a, -1))


def _money(values: np.ndarray) -> np.ndarray:
    return np.array([f"{v:.2f}" for v in values], dtype=object)


def purchases_frames(
    ctx: Ctx,
    world: World,
    ecom: Records,
    loyalty: Records,
    home_store: np.ndarray,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Orders, order lines, tickets and ticket lines of the block.

    Returns:
        The four delivered frames by name, and the online orders (``pi``, ``ts``,
        ``order_id``, ``account``) for web purchase sessions.
    """
    rng, p, persons = ctx.rng, ctx.params, ctx.persons
    n = len(persons)
    in_e, in_l = persons["in_ecommerce"].to_numpy(), persons["in_loyalty"].to_numpy()
    rate = np.where(in_e | in_l, persons["rate"].to_numpy(), 0.0)
    who, ts = activity.purchases(
        rng,
        rate,
        persons["dropout"].to_numpy(),
        persons["first_seen"].to_numpy(),
        ctx.start_ts,
        ctx.end_ts,
    )
    online = np.where(
        in_e[who] & in_l[who],
        rng.random(len(who)) < persons["online_share"].to_numpy()[who],
        in_e[who],
    )
    account = _account_at(rng, ecom, n, who, ts, 0.6)
    online &= (account >= 0) | ~in_l[who]  # no account yet: buys in store instead
    keep = ~online | (account >= 0)
    affinity = activity.category_affinity(rng, n)

    # ---- online orders
    o = online & keep
    o_who, o_ts, o_acc = who[o], activity.web_time(rng, ts[o]), account[o]
    if len(o_acc):  # never before the account was opened, nor after the period
        o_ts = np.clip(o_ts, ecom.created[o_acc] + 600, ctx.end_ts - 1)
    order_id = np.array([f"CMD{ctx.block:07d}{j:05d}" for j in range(len(o_who))], dtype=object)
    lines = activity.basket_lines(rng, world, affinity[o_who], len(o_who))
    goods = np.bincount(lines["basket"], weights=lines["amount"], minlength=len(o_who))
    shipping = np.where(goods < 50, 4.99, 0.0)
    total = _money(np.round(goods + shipping, 2))
    bad = rng.random(len(total)) < p.p_malformed_row
    total[bad] = np.array([t.replace(".", ",") for t in total[bad]], dtype=object)
    orders = pd.DataFrame(
        {
            "order_id": order_id,
            "customer_id": ecom.source_id[o_acc] if len(o_acc) else np.array([], dtype=object),
            "order_date": ts_text(o_ts, "%Y-%m-%d %H:%M:%S"),
            "status": rng.choice(
                ["delivered", "cancelled", "returned"], len(o_who), p=[0.93, 0.04, 0.03]
            ),
            "total_amount": total,
            "shipping_fee": _money(shipping),
            "currency": "EUR",
            "payment_method": rng.choice(
                ["card", "paypal", "gift_card"], len(o_who), p=[0.75, 0.2, 0.05]
            ),
        }
    )
    order_lines = pd.DataFrame(
        {
            "order_id": order_id[lines["basket"].to_numpy()],
            "line_no": lines["line_no"],
            "sku": lines["product_id"],
            "category": lines["category"],
            "qty": lines["quantity"],
            "unit_price": _money(lines["unit_price"].to_numpy()),
            "line_amount": _money(lines["amount"].to_numpy()),
        }
    )

    # ---- store tickets: members (card scanned or not) and walk-in shoppers
    s = ~online
    s_who, s_ts = who[s], ts[s]
    card = _account_at(rng, loyalty, n, s_who, s_ts, 0.8)
    card = np.where(rng.random(len(card)) < p.p_ticket_without_card, -1, card)
    share = p.anonymous_ticket_share
    n_walk = int(rng.poisson(len(s_who) * share / max(1 - share, 1e-9)))
    t_ts = activity.store_time(
        rng, np.concatenate([s_ts, rng.integers(ctx.start_ts, ctx.end_ts, n_walk)])
    )
    t_store = np.concatenate([home_store[s_who], rng.choice(world.store_id, n_walk)])
    t_aff = np.concatenate([affinity[s_who], activity.category_affinity(rng, n_walk)])
    card_no = np.concatenate(
        [
            np.where(
                card >= 0, loyalty.source_id[np.maximum(card, 0)] if len(loyalty) else None, None
            ),
            np.full(n_walk, None),
        ]
    )
    ticket_id = np.array(
        [f"{st}-{ctx.block:07d}-{j:05d}" for j, st in enumerate(t_store)], dtype=object
    )
    tl = activity.basket_lines(rng, world, t_aff, len(ticket_id))
    t_total = np.round(np.bincount(tl["basket"], weights=tl["amount"], minlength=len(ticket_id)), 2)
    tickets = pd.DataFrame(
        {
            "ticket_id": ticket_id,
            "store_id": t_store,
            "ticket_ts": pd.to_datetime(t_ts, unit="s"),
            "card_number": card_no,
            "total_amount": t_total,
            "n_items": np.bincount(
                tl["basket"], weights=tl["quantity"], minlength=len(ticket_id)
            ).astype(np.int32),
            "payment_method": rng.choice(
                ["CB", "ESPECES", "CHEQUE", "CARTE_CADEAU"],
                len(ticket_id),
                p=[0.8, 0.12, 0.03, 0.05],
            ),
        }
    )
    ticket_lines = pd.DataFrame(
        {
            "ticket_id": ticket_id[tl["basket"].to_numpy()],
            "line_no": tl["line_no"].astype(np.int32),
            "product_ref": tl["product_id"],
            "product_family": tl["category"],
            "qty": tl["quantity"].astype(np.int32),
            "unit_price": tl["unit_price"],
            "line_total": tl["amount"],
        }
    )
    online_orders = pd.DataFrame(
        {"pi": o_who, "ts": o_ts, "order_id": order_id, "account": o_acc, "revenue": goods}
    )
    frames = {
        "orders": orders,
        "order_lines": order_lines,
        "tickets": tickets,
        "ticket_lines": ticket_lines,
    }
    return frames, online_orders


def web_events(ctx: Ctx, ecom: Records, online_orders: pd.DataFrame) -> pd.DataFrame:
    """Web analytics events: cookies, sessions, logged-in customer ids."""
    rng, p, persons = ctx.rng, ctx.params, ctx.persons
    n = len(persons)
    visitor = np.flatnonzero(persons["in_web"].to_numpy())
    n_ck = 1 + rng.poisson(0.6, len(visitor))
    ck_owner = np.repeat(visitor, n_ck)
    ck_start = np.concatenate([[0], np.cumsum(n_ck)[:-1]]) if len(visitor) else np.zeros(0, int)
    first_ck = np.full(n, -1)
    count_ck = np.zeros(n, int)
    first_ck[visitor], count_ck[visitor] = ck_start, n_ck
    n_anon = int(rng.poisson(p.anonymous_cookies_per_person * n))
    cookies = activity.random_uuid(rng, len(ck_owner) + n_anon)

    # browsing sessions of known persons
    begin = np.maximum(persons["first_seen"].to_numpy(), ctx.start_ts)
    years = (ctx.end_ts - begin) / YEAR
    k = rng.poisson(persons["web_rate"].to_numpy()[visitor] * years[visitor])
    b_who = np.repeat(visitor, k)
    b_ts = (
        activity.web_time(rng, rng.integers(begin[b_who], ctx.end_ts))
        if len(b_who)
        else np.zeros(0, np.int64)
    )
    acc = _account_at(rng, ecom, n, b_who, b_ts, 0.7)
    b_logged = (acc >= 0) & (rng.random(len(b_who)) < 0.35)
    # purchase sessions (always logged in), on a cookie of the buyer when they have one
    o = online_orders[first_ck[online_orders["pi"].to_numpy()] >= 0]
    o_who = o["pi"].to_numpy()
    sess_who = np.concatenate([b_who, o_who])
    sess_ts = np.concatenate([b_ts, o["ts"].to_numpy() - 300])
    sess_logged = np.concatenate([b_logged, np.ones(len(o), bool)])
    sess_buy = np.concatenate([np.zeros(len(b_who), bool), np.ones(len(o), bool)])
    sess_user = np.concatenate([np.where(b_logged, acc, -1), o["account"].to_numpy()])
    sess_order = np.concatenate([np.full(len(b_who), None), o["order_id"].to_numpy()])
    sess_rev = np.concatenate([np.full(len(b_who), np.nan), o["revenue"].to_numpy()])
    sess_cookie = first_ck[sess_who] + (rng.random(len(sess_who)) * count_ck[sess_who]).astype(int)
    # anonymous cookies: a few sessions each, never logged in
    a_sess = 1 + rng.poisson(1.0, n_anon)
    a_cookie = np.repeat(len(ck_owner) + np.arange(n_anon), a_sess)
    a_ts = activity.web_time(rng, rng.integers(ctx.start_ts, ctx.end_ts, len(a_cookie)))
    cookie_of = np.concatenate([sess_cookie, a_cookie])
    n_s = len(cookie_of)
    ts_all = np.concatenate([sess_ts, a_ts])
    logged_all = np.concatenate([sess_logged, np.zeros(len(a_cookie), bool)])
    buy_all = np.concatenate([sess_buy, np.zeros(len(a_cookie), bool)])
    user_all = np.concatenate([sess_user, np.full(len(a_cookie), -1)])
    order_all = np.concatenate([sess_order, np.full(len(a_cookie), None)])
    rev_all = np.concatenate([sess_rev, np.full(len(a_cookie), np.nan)])

    ev = activity.sessions_events(rng, ts_all, logged_all, buy_all)
    sidx = ev["session"].to_numpy()
    name = ev["event_name"].to_numpy()
    session_id = np.array([f"{ctx.block:07d}.{j:06d}" for j in range(n_s)], dtype=object)
    user = user_all[sidx]
    user_id = np.where(user >= 0, ecom.source_id[np.maximum(user, 0)] if len(ecom) else None, None)
    prod = rng.integers(0, len(vocab.CATEGORIES) * activity.PRODUCTS_PER_CATEGORY, len(ev))
    url = np.select(
        [name == "page_view", name == "product_view", name == "add_to_cart", name == "login"],
        [
            rng.choice(vocab.WEB_PAGES, len(ev)),
            np.array([f"/p/{i:05d}" for i in prod], dtype=object),
            "/panier",
            "/compte/connexion",
        ],
        "/commande/confirmation",
    )
    is_buy = name == "purchase"
    device = rng.choice(["mobile", "desktop", "tablet"], n_s, p=[0.6, 0.33, 0.07])
    return pd.DataFrame(
        {
            "event_id": activity.random_uuid(rng, len(ev)),
            "cookie_id": cookies[cookie_of[sidx]],
            "session_id": session_id[sidx],
            "user_id": user_id,
            "event_name": name,
            "page_url": url,
            "ts": ts_text(ev["ts"].to_numpy(), "%Y-%m-%dT%H:%M:%S.000Z"),
            "device": device[sidx],
            "order_id": np.where(is_buy, order_all[sidx], None),
            "revenue": np.where(is_buy, np.round(rev_all[sidx], 2), np.nan),
        }
    )


def email_events(ctx: Ctx, world: World, subs: Records, state: Subscriptions) -> pd.DataFrame:
    """Newsletter events per subscriber: sent, open, click, bounce, unsubscribe."""
    rng, p, persons = ctx.rng, ctx.params, ctx.persons
    c_ts = world.campaign_ts
    unsub = np.where(state.unsubscribed_at < 0, np.iinfo(np.int64).max, state.unsubscribed_at)
    active = (c_ts[None, :] > subs.created[:, None]) & (c_ts[None, :] < unsub[:, None])
    active &= rng.random(active.shape) < p.p_campaign_target
    s_idx, c_idx = np.nonzero(active)
    sent_ts = c_ts[c_idx] + rng.integers(0, 1800, len(s_idx))
    bounced = state.bounced[s_idx]
    open_rate = persons["open_rate"].to_numpy()[subs.pi[s_idx]]
    click_rate = persons["click_rate"].to_numpy()[subs.pi[s_idx]]
    opened = ~bounced & (rng.random(len(s_idx)) < open_rate)
    open_ts = sent_ts + rng.exponential(8 * 3600, len(s_idx)).astype(np.int64)
    clicked = opened & (rng.random(len(s_idx)) < click_rate)
    click_ts = open_ts + rng.exponential(600, len(s_idx)).astype(np.int64)
    u = np.flatnonzero(state.unsubscribed_at >= 0)
    last_c = np.searchsorted(c_ts, state.unsubscribed_at[u]) - 1
    parts = [
        (s_idx, c_idx, "sent", sent_ts),
        (s_idx[bounced], c_idx[bounced], "bounce", sent_ts[bounced] + 30),
        (s_idx[opened], c_idx[opened], "open", open_ts[opened]),
        (s_idx[clicked], c_idx[clicked], "click", click_ts[clicked]),
        (u, last_c, "unsubscribe", state.unsubscribed_at[u]),
    ]
    sub = np.concatenate([x[0] for x in parts]).astype(int)
    camp = np.concatenate([x[1] for x in parts]).astype(int)
    kind = np.concatenate([np.full(len(x[0]), x[2], dtype=object) for x in parts])
    ts = np.concatenate([x[3] for x in parts]).astype(np.int64)
    order = np.lexsort((ts, sub))
    sub, camp, kind, ts = sub[order], camp[order], kind[order], ts[order]
    has_camp = camp >= 0
    campaign = np.where(
        has_camp, world.campaign_id[np.maximum(camp, 0)] if len(c_ts) else None, None
    )
    url = np.where(kind == "click", rng.choice(vocab.WEB_PAGES, len(kind)), NA)
    return pd.DataFrame(
        {
            "event_id": [f"ev-{ctx.block:07d}-{j:06d}" for j in range(len(sub))],
            "subscriber_id": subs.source_id[sub] if len(sub) else np.array([], dtype=object),
            "campaign_id": campaign,
            "event_type": kind,
            "ts": ts,
            "url": url,
        }
    )


def crm_interactions(ctx: Ctx, contacts: Records) -> pd.DataFrame:
    """Calls, e-mails and chats handled by the call centre, per contact."""
    rng, p = ctx.rng, ctx.params
    k = rng.poisson(p.crm_interactions_mean, len(contacts))
    c = np.repeat(np.arange(len(contacts)), k)
    begin = np.maximum(contacts.created[c], ctx.start_ts)
    ts = rng.integers(begin, np.maximum(begin + 1, ctx.end_ts)) if len(c) else np.zeros(0, np.int64)
    ts = activity.store_time(rng, ts)
    channel = rng.choice(["phone", "email", "chat", "store"], len(c), p=[0.55, 0.25, 0.15, 0.05])
    duration = np.where(channel == "phone", 60 + rng.gamma(2.0, 180, len(c)).astype(int), NA)
    return pd.DataFrame(
        {
            "interactionId": [f"INT-{ctx.block:07d}-{j:05d}" for j in range(len(c))],
            "contactId": contacts.source_id[c] if len(c) else np.array([], dtype=object),
            "channel": channel,
            "type": np.where(channel == "phone", "call", "ticket"),
            "reason": rng.choice(vocab.CRM_REASONS, len(c)),
            "createdAt": ts_text(ts, "%Y-%m-%dT%H:%M:%S"),
            "durationSec": pd.array(duration, dtype="Int64"),
            "status": rng.choice(["closed", "open", "escalated"], len(c), p=[0.85, 0.1, 0.05]),
        }
    )


__all__ = ["DAY", "crm_interactions", "email_events", "purchases_frames", "web_events"]

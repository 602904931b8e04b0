#!/usr/bin/env python3
"""Writes events.jsonl: a two-hour outage drill (09:00-11:00 Kyiv time, 2027-03-03).

Deterministic (fixed seed, no clock): run it again and the file is byte for byte the same.
09:00-09:35 a calm morning (questions, praise, a rare complaint); 09:35 the login service
fails and complaints in English, Ukrainian and Russian ramp up to about six a minute;
09:58 pr_lead approves the status post; 10:00 the fix lands and complaints turn to thanks.
"""
import json
import random
from datetime import datetime, timedelta, timezone

rng = random.Random(20270303)
tz = timezone(timedelta(hours=2))
start = datetime(2027, 3, 3, 9, 0, tzinfo=tz)
accounts = ["brand_mastodon", "brand_bluesky", "brand_telegram"]

calm = [
    "Love the new update, great work!",
    "Is the app down for maintenance tonight? Just asking",
    "Дякую за швидку відповідь підтримки",
    "Спасибо, всё отлично работает",
    "When does the spring sale start?",
    "Коли буде нова версія?",
    "Когда будет скидка?",
]
angry = [
    "The app is down again, I can't log in. Terrible.",
    "Login not working for an hour, this is awful",
    "Is acme down? Nothing loads, so frustrating and useless",
    "Outage again?! Worst week ever",
    "Застосунок не працює, жахливо",
    "Знову все лежить, це ганьба",
    "Не працює вхід, поверніть гроші",
    "Приложение не работает, ужас",
    "Опять всё лежит, позор",
    "Сервис не работает уже час, ужасно",
]
recovering = [
    "Back up now, thanks for the quick fix!",
    "Працює знову, дякую",
    "Работает, спасибо",
    "Login works again, not bad for a Monday outage",
]
later = [c for c in calm if "down" not in c]

def author(prefix, n):
    return f"@{prefix}{n}"

events = []
minute = 0
while minute < 120:
    at = start + timedelta(minutes=minute)
    if minute < 35:
        count, pool, who = rng.choice([1, 2, 2, 3]), calm, "calm"
    elif minute < 60:
        ramp = min(6, 1 + (minute - 35) // 4)
        count, pool, who = ramp + rng.choice([0, 1]), angry, "user"
    elif minute < 75:
        count, pool, who = rng.choice([1, 2, 3]), recovering, "back"
    else:
        count, pool, who = rng.choice([1, 2, 3, 4]), later, "later"
    for i in range(count):
        second = rng.randrange(60)
        events.append({
            "at": (at + timedelta(seconds=second)).isoformat(),
            "type": "mention",
            "account": rng.choice(accounts),
            "author": author(who, rng.randrange(400)),
            "text": rng.choice(pool),
        })
    minute += 1

# The person on duty acknowledges the first alert (`crier incident ack 1 --by duty_smm`).
events.append({
    "at": (start + timedelta(minutes=33)).isoformat(),
    "type": "approval", "incident": "service-outage", "by": "duty_smm", "decision": "ack",
})
events.append({
    "at": (start + timedelta(minutes=58)).isoformat(),
    "type": "approval", "incident": "service-outage", "by": "pr_lead",
    "decision": "approve", "note": "Status post checked with engineering",
})
events.sort(key=lambda e: e["at"])
with open("events.jsonl", "w", encoding="utf-8") as out:
    for event in events:
        out.write(json.dumps(event, ensure_ascii=False) + "\n")
print(f"{len(events)} events")

"""The dashboard walked in a real Chromium, as a person would.

Starts `crier run` on a copy of the quickstart (its store in a temporary folder outside the
repository; `day_one: first-run`, so day 1 is today and the teaser's approval waits), signs in with one-time links from `crier login`, and walks the pages:
calendar, a post, approvals (the teaser approved by its approver, a viewer refused), the kill
switch (pause everything, the held count, resume), the outage's incident and its chart, the
giveaway drawn with its winners, the page a notice's decision link opens (on a 375-px phone,
in Russian and in English), and the Russian interface. The copy's giveaway is moved into the
walk's own minutes (announced just after the start, closed and drawn about two minutes
later; entries read every 2 s): the walk sends its replies through the inbound API
(`POST /api/v1/mentions`) once it is announced, and opens it once drawn. The service runs on
the real clock: nothing is shifted, and every account of the quickstart is a console one. Each
page gets a screenshot and an axe-core check (no serious or critical violations). Every wait
is bounded; the first failure stops the walk with what was expected and what the page shows.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000
# The giveaway, moved into the walk's minutes: from the start of `crier run`.
ANNOUNCE_AFTER = datetime.timedelta(seconds=20)
CLOSES_AFTER = datetime.timedelta(seconds=100)
DRAWN_AFTER = datetime.timedelta(seconds=110)


class WalkFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise WalkFailed(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Crier:
    """`crier run` on a copy of the quickstart, and the CLI on the same folder."""

    def __init__(self, binary, quickstart):
        self.binary = str(Path(binary).resolve())
        self.dir = Path(tempfile.mkdtemp(prefix="crier-browser-"))
        self.folder = self.dir / "quickstart"
        shutil.copytree(quickstart, self.folder, ignore=shutil.ignore_patterns("crier.db*"))
        self.port = free_port()
        config = (self.folder / "crier.yaml").read_text()
        config = config.replace("listen: 127.0.0.1:7878", f"listen: 127.0.0.1:{self.port}")
        config = config.replace(
            "people:\n",
            "people:\n  guest:    { notify: oncall_slack }   # a viewer\n",
            1,
        )
        (self.folder / "crier.yaml").write_text(config)
        self.base = f"http://127.0.0.1:{self.port}"
        self.out = open(self.dir / "run.out", "w+")
        self.process = None
        self.giveaway = None

    def time_the_giveaway(self):
        """Moves the copy's giveaway into the walk's minutes: announced ANNOUNCE_AFTER from
        now, closed CLOSES_AFTER, drawn DRAWN_AFTER (the contest's own time zone)."""
        path = self.folder / "december-giveaway.yaml"
        text = path.read_text()
        zone = ZoneInfo(re.search(r"^timezone: (\S+)", text, re.M).group(1))
        now = datetime.datetime.now(zone)
        times = {
            "announce": now + ANNOUNCE_AFTER,
            "closes": now + CLOSES_AFTER,
            "draw": now + DRAWN_AFTER,
        }
        written = {name: at.strftime("%Y-%m-%d %H:%M:%S") for name, at in times.items()}
        for pattern, name in [
            (r"^(announce:\n  at: ).*$", "announce"),
            (r"^(  closes: ).*$", "closes"),
            (r"^(draw:\n  at: ).*$", "draw"),
        ]:
            text, count = re.subn(pattern, lambda m: m.group(1) + written[name], text, count=1, flags=re.M)
            check(count == 1, f"the quickstart's giveaway has no `{name}` time to move")
        path.write_text(text)
        self.giveaway = times

    def cli(self, *args):
        done = subprocess.run(
            [self.binary, *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        check(done.returncode == 0, f"crier {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def start(self):
        self.time_the_giveaway()
        self.process = subprocess.Popen(
            [self.binary, "run", str(self.folder)],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            env={**os.environ, "CRIER_ENTRIES_POLL_SECONDS": "2"},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            check(self.process.poll() is None, f"crier run stopped: {self.output()}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise WalkFailed(f"crier run was not ready within 120 s: {self.output()}")

    def output(self):
        self.out.flush()
        return (self.dir / "run.out").read_text()

    def api(self, method, path, token, body=None, content_type="application/json"):
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=body.encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def login_link(self, person):
        return self.cli("login", person).strip().splitlines()[-1]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Walk:
    """Each person gets a browser of their own: a fresh profile (`--user-data-dir`)."""

    def __init__(self, playwright, axe, screenshots):
        self.playwright = playwright
        self.axe = axe
        self.screenshots = screenshots
        self.profiles = []
        self.contexts = []
        self.checked = []

    def page(self, width=1280, height=900, locale="en-GB"):
        profile = tempfile.mkdtemp(prefix="crier-chromium-")
        self.profiles.append(profile)
        context = self.playwright.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
            locale=locale,
            timezone_id="Europe/Kyiv",
            # axe-core is injected from its local file; the dashboard's CSP allows no
            # script it did not serve.
            bypass_csp=True,
        )
        self.contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(WAIT_MS)
        return page

    def close(self):
        for context in self.contexts:
            context.close()
        for profile in self.profiles:
            shutil.rmtree(profile, ignore_errors=True)

    def look(self, page, name):
        """A screenshot of the page, and its accessibility check."""
        page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)
        page.add_script_tag(path=str(self.axe))
        result = page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        check(not serious, f"{name}: accessibility violations:\n  " + "\n  ".join(serious))
        self.checked.append(name)
        print(f"  ok  {name}")


def fits(page, what):
    """Nothing on the page is wider than its viewport (no sideways scrolling on a phone)."""
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    check(wide <= page.viewport_size["width"], f"{what} is {wide} px wide on a {page.viewport_size['width']} px screen")


def sign_in(walk, link):
    page = walk.page()
    page.goto(link)
    page.get_by_role("button", name=re.compile("Sign in|Войти")).first.click()
    page.wait_for_url(re.compile(r"/calendar"))
    return page


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--crier", required=True)
    parser.add_argument("--quickstart", required=True)
    parser.add_argument("--axe", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    screenshots = Path(args.screenshots)
    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir(parents=True)

    crier = Crier(args.crier, args.quickstart)
    try:
        crier.start()
        print(f"crier run on {crier.base} ({crier.folder})")
        token = crier.cli("token", "new", "pr_lead", "--name", "browser-walk").split()[-1]
        enter_the_giveaway(crier, token)
        with sync_playwright() as playwright:
            walk = Walk(playwright, Path(args.axe), screenshots)
            try:
                walk_all(crier, token, walk)
            finally:
                walk.close()
    except WalkFailed as failed:
        print(f"FAILED: {failed}", file=sys.stderr)
        print("crier run said:\n" + crier.output()[-4000:], file=sys.stderr)
        crier.stop()
        return 1
    crier.stop()
    print(f"the walk passed; screenshots in {screenshots}")
    return 0


GIVEAWAY = "december-giveaway"
# Replies to its announcement: the first carries a link (the `no_links` rule leaves it out).
ENTRANTS = 6


def contest(crier, token):
    return crier.api("GET", f"/api/v1/contests/{GIVEAWAY}", token)


def enter_the_giveaway(crier, token):
    """Once the giveaway is announced, replies to it come in through the inbound API."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and contest(crier, token).get("phase") in (None, "scheduled"):
        time.sleep(1)
    phase = contest(crier, token).get("phase")
    check(phase not in (None, "scheduled"), f"the giveaway was not announced within 120 s: {phase}")
    now = datetime.datetime.now(datetime.timezone.utc)
    check(
        now < crier.giveaway["closes"],
        "the walk reached the giveaway after its entries closed; move CLOSES_AFTER later",
    )
    entries = "\n".join(
        json.dumps(
            {
                "at": now.isoformat(),
                "type": "reply",
                "account": "brand_mastodon",
                "in_reply_to": "announce",
                "id": f"walk-entry-{i}",
                "author": f"@fan{i}@mastodon.social",
                "follows_us": True,
                "age_days": 400,
                "text": "I'd love a jacket #warmwinter" + (" http://spam.example" if i == 0 else ""),
            }
        )
        for i in range(ENTRANTS)
    )
    pushed = crier.api("POST", "/api/v1/mentions", token, entries)
    check(pushed.get("contest_entries") == ENTRANTS, f"the giveaway took {pushed} of {ENTRANTS} replies")


def walk_all(crier, token, walk):
    # Signed in with a one-time link.
    page = sign_in(walk, crier.login_link("pr_lead"))
    walk.look(page, "01-calendar")

    # The calendar shows what `crier plan` says goes out, on its day at its time.
    planned = [
        json.loads(line)
        for line in crier.cli("plan", "--days", "3", "--format", "json").splitlines()
        if line.strip()
    ]
    check(planned, "crier plan shows nothing in the next three days")
    page.goto(f"{crier.base}/calendar?view=list")
    listed = page.inner_text("main")
    for post in planned[:5]:
        at = datetime.datetime.fromisoformat(post["at"])
        check(
            post["item"] in listed and at.strftime("%H:%M") in listed,
            f"the calendar's list lacks {post['playbook']}/{post['item']} at {at:%Y-%m-%d %H:%M}",
        )
        check(
            at.strftime("%Y-%m-%d") in listed or at.strftime("%-d") in listed,
            f"the calendar's list lacks the day of {post['item']}: {at:%Y-%m-%d}",
        )
    walk.look(page, "02-calendar-list")

    # A post's detail.
    page.locator("a[href*='item=teaser']").first.click()
    page.wait_for_url(re.compile(r"/calendar/post"))
    check("Something warm is coming" in page.inner_text("main"), "the teaser's text is not shown")
    walk.look(page, "03-post")

    # A viewer sees no button to decide the teaser, and a forged form is refused.
    waiting = crier.api("GET", "/api/v1/approvals", token)
    waiting = waiting.get("approvals", waiting) if isinstance(waiting, dict) else waiting
    teaser = next(a for a in waiting if a.get("item") == "teaser")
    guest = sign_in(walk, crier.login_link("guest"))
    guest.goto(f"{crier.base}/approvals")
    check(
        guest.locator("form[action$='/decide'] button[value='approve']").count() == 0,
        "a viewer is shown the button to approve the teaser",
    )
    csrf = guest.locator("input[name='csrf']").first.get_attribute("value")
    forged = guest.request.post(
        f"{crier.base}/approvals/{teaser['id']}/decide",
        form={"csrf": csrf, "decision": "approve", "note": ""},
        max_redirects=0,
    )
    check(forged.status == 403, f"a viewer's approval was answered {forged.status}, not 403")
    check("guest cannot decide" in forged.text(), f"no reason given: {forged.text()[:300]}")
    walk.look(guest, "04-approvals-viewer")

    # Its approver approves it.
    page.goto(f"{crier.base}/approvals")
    walk.look(page, "05-approvals")
    page.locator("form[action$='/decide'] button[value='approve']").first.click()
    page.wait_for_url(re.compile(r"done=approved"))
    check("Approved" in page.inner_text("main"), "the approval was not confirmed")
    walk.look(page, "06-approved")

    # Pause everything: the held count shows; resume.
    page.goto(f"{crier.base}/pauses")
    page.locator("#reason-all").fill("browser walk: checking the kill switch")
    page.locator("form[action='/pauses'] button").first.click()
    page.wait_for_url(re.compile(r"done=paused"))
    check(page.locator("dd.held").count() > 0, f"no held count after pausing: {page.inner_text('main')[:400]}")
    walk.look(page, "07-paused")
    page.locator("form[action='/pauses/resume'] button").first.click()
    page.wait_for_url(re.compile(r"done=resumed"))
    check("Resumed" in page.inner_text("main"), "resuming was not confirmed")
    walk.look(page, "08-resumed")

    # The outage: 25 negative mentions in a few minutes raise an incident.
    now = datetime.datetime.now(datetime.timezone.utc)
    mentions = "\n".join(
        json.dumps(
            {
                "at": (now - datetime.timedelta(seconds=10 * i)).isoformat(),
                "type": "mention",
                "account": "brand_mastodon",
                "id": f"walk-outage-{i}",
                "author": f"@user{i}@mastodon.social",
                "text": "the app is down again, not working at all",
            }
        )
        for i in range(25)
    )
    crier.api("POST", "/api/v1/mentions", token, mentions)
    incident = None
    deadline = time.monotonic() + 180
    while incident is None and time.monotonic() < deadline:
        listed = crier.api("GET", "/api/v1/incidents", token)
        items = listed.get("incidents", listed) if isinstance(listed, dict) else listed
        incident = next((i for i in items if i.get("status") == "open"), None)
        if incident is None:
            time.sleep(2)
    check(incident is not None, "no incident opened within 180 s of the outage's mentions")
    page.goto(f"{crier.base}/incidents")
    walk.look(page, "09-incidents")
    page.locator(f"a[href='/incidents/{incident['id']}']").first.click()
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    check(page.locator("svg[aria-label='Mentions per minute']").count() == 1, "no mentions chart")
    walk.look(page, "10-incident")

    # The notice to pr_lead carries a link that opens the decision's page.
    links = re.findall(re.escape(crier.base) + r"/decide/[A-Za-z0-9_.-]+", crier.output())
    check(links, "no decision link in the notices crier sent")
    # In Russian first (the phone's language), in the dashboard's layout, nothing wider
    # than the phone; nothing is decided there.
    russian = walk.page(width=375, height=740, locale="ru-RU")
    russian.goto(links[-1])
    check(russian.locator("html").get_attribute("lang") == "ru", "the decision page is not in Russian")
    check(
        russian.locator("link[href^='/assets/dashboard.css']").count() == 1,
        "the decision page is not in the dashboard's style",
    )
    said = russian.inner_text("main")
    check(
        re.search("Принять|Одобрить", said) and not re.search("Acknowledge|Approve|Decide", said),
        f"the Russian decision page says: {said[:400]}",
    )
    fits(russian, "the Russian decision page")
    walk.look(russian, "11-decision-link-ru")
    phone = walk.page(width=375, height=740)
    phone.goto(links[-1])
    fits(phone, "the decision page")
    walk.look(phone, "11-decision-link")
    button = phone.get_by_role("button", name=re.compile("Acknowledge|Approve"))
    check(button.count() > 0, f"the decision page offers nothing: {phone.inner_text('main')[:400]}")
    button.first.click()
    check("Recorded" in phone.inner_text("main"), "the decision was not recorded")
    walk.look(phone, "12-decided")

    # The giveaway, drawn: its winners, and the entry the rules left out.
    deadline = time.monotonic() + 240
    drawn = contest(crier, token)
    while not drawn.get("drawn") and time.monotonic() < deadline:
        time.sleep(2)
        drawn = contest(crier, token)
    check(drawn.get("drawn"), f"the giveaway was not drawn within 240 s: {json.dumps(drawn)[:400]}")
    check(
        len(drawn["winners"]) == 3 and len(drawn["reserves"]) == 2,
        f"the draw picked {drawn['winners']} and reserves {drawn['reserves']}",
    )
    page.goto(f"{crier.base}/contests")
    walk.look(page, "13-contests")
    page.locator(f"a[href='/contests/{GIVEAWAY}']").first.click()
    page.wait_for_url(re.compile(f"/contests/{GIVEAWAY}$"))
    text = page.inner_text("main")
    check("Winners" in text, f"the drawn giveaway shows no winners: {text[:400]}")
    for winner in drawn["winners"]:
        check(winner in text, f"the giveaway's page lacks its winner {winner}: {text[:400]}")
    check("no_links" in text, f"the entry the rules left out is not shown: {text[:400]}")
    walk.look(page, "14-contest")

    # Russian.
    page.get_by_role("link", name="Русский").first.click()
    page.wait_for_load_state()
    check(page.locator("html").get_attribute("lang") == "ru", "the page did not switch to Russian")
    walk.look(page, "15-russian")


if __name__ == "__main__":
    sys.exit(main())

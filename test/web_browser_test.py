#!/usr/bin/env python3
"""web_browser_test.py: the built-in web client in a real browser (Debian's chromium, headless,
driven by python3-selenium through chromedriver) against the real uvchat.

A browser user and a raw-socket text user (what nc would do) chat both ways in one room; an
IRC user sends formatting; the browser user receives hostile text (markup, bidi overrides)
and the page shows it as text; older history loaded by scrolling up; private messages, unread markers, rooms, topics, a phone-sized
window; the server is stopped and started again on the same web port, and the page
reconnects by itself and rejoins its rooms. Screenshots go to --out.

--case cluster: a browser user on one server and a raw-socket text user on another, the two
servers joined through a throwaway redis-server (--cluster), chat both ways in one room.

Exit status: 0 passed, 1 failed, 77 skipped (no chromium, chromedriver or selenium; for
--case cluster, no redis-server).
Every wait has a deadline (stretched by UVCHAT_TEST_SLOW); every process is stopped by PID.
UVCHAT_TEST_WRAPPER (valgrind ...) runs the server under a tool, like the C harness does.
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
SLOW = float(os.environ.get("UVCHAT_TEST_SLOW", "1") or "1")


def find_program(env, paths, names):
    """$env, else the first of paths that exists, else the first of names on PATH."""
    if os.environ.get(env):
        return os.environ[env]
    for p in paths:
        if os.access(p, os.X_OK):
            return p
    for n in names:
        if shutil.which(n):
            return shutil.which(n)
    return paths[0]


# Debian's chromium and chromium-driver; elsewhere a Chrome and chromedriver on PATH (GitHub's
# Ubuntu runners have both). Nothing downloads a browser.
CHROMIUM = find_program("UVCHAT_CHROMIUM", ["/usr/bin/chromium"], ["chromium", "google-chrome"])
CHROMEDRIVER = find_program("UVCHAT_CHROMEDRIVER", ["/usr/bin/chromedriver"], ["chromedriver"])


def skip(why):
    print("SKIPPED: " + why)
    sys.exit(SKIP)


try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as e:
    skip("python3-selenium is not installed (%s)" % e)


def deadline(seconds):
    return time.monotonic() + seconds * SLOW


def wait_until(fn, what, seconds=10):
    """Polls fn() until it returns something true, and returns that; fails after seconds."""
    end = deadline(seconds)
    last_err = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except WebDriverException as e:  # the page is between states: try again
            last_err = e
        time.sleep(0.05)
    raise AssertionError("timed out after %gs waiting for %s%s" % (
        seconds * SLOW, what, " (last error: %s)" % last_err if last_err else ""))


def log(msg):
    print("[%7.2f] %s" % (time.monotonic() - T0, msg), flush=True)


T0 = time.monotonic()

# ---- the server ------------------------------------------------------------------------


class Server:
    """The real uvchat on port 0 (text, IRC, web), or on a given web port. Its output is read
    by a thread, so that it never blocks on a full pipe."""

    LISTEN_RE = re.compile(r"listening on (\S+):(\d+) \(([^)]*)\)")

    def __init__(self, binary, workdir, web_listen, extra=(), ready=None):
        """extra: more arguments; ready: a log line to wait for too (a cluster member's
        "cluster: connected to Redis")."""
        self.ports = {}
        self.lines = []
        self.eof = False
        self.cond = threading.Condition()
        conf = os.path.join(workdir, "empty.conf")
        open(conf, "w").close()
        data = os.path.join(workdir, "data")
        os.makedirs(data, exist_ok=True)
        wrapper = shlex.split(os.environ.get("UVCHAT_TEST_WRAPPER", ""))
        self.argv = wrapper + [
            binary, "--config", conf, "--data-dir", data, "--port", "0", "--irc-port", "0",
            "--tls-port", "off", "--irc-tls-port", "off", "--listen", "web:" + web_listen,
            "--log-level", "info", "--flood-burst", "200",  # the history step's 120 lines at once
        ] + list(extra)
        log("starting: " + " ".join(shlex.quote(a) for a in self.argv))
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        end = deadline(20)
        with self.cond:
            while not (all(k in self.ports for k in ("text", "irc", "web")) and
                       (ready is None or any(ready in l for l in self.lines))):
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError("the server did not report its listeners:\n" +
                                         "".join(self.lines))
                self.cond.wait(left)
        log("server %d: ports %s" % (self.proc.pid, self.ports))

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            with self.cond:
                self.lines.append(line)
                m = self.LISTEN_RE.search(line)
                if m:
                    kinds = [k.strip() for k in m.group(3).split(",")]
                    for k in ("text", "irc", "web"):
                        if k in kinds and k not in self.ports:
                            self.ports[k] = int(m.group(2))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_log(self, text, seconds=10):
        """Waits until the server logged a line holding text."""
        end = deadline(seconds)
        with self.cond:
            while not any(text in l for l in self.lines):
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError("server %d did not log %r:\n%s" % (
                        self.proc.pid, text, "".join(self.lines[-20:])))
                self.cond.wait(left)

    def stop(self, seconds=15):
        """SIGTERM (the graceful stop) and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=seconds * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("the server did not stop within %gs" % (seconds * SLOW))
        self.reader.join(timeout=5)
        return self.proc.returncode


# ---- a redis-server, for the cluster case ------------------------------------------------


def free_port():
    """A loopback port nobody listens on right now (the kernel's pick for port 0). Redis
    cannot listen on port 0 and say which port it got, so it is given one of these, and a
    start that fails because someone took it meanwhile is tried again on another."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Redis:
    """A throwaway redis-server on a free loopback port, no persistence, in its own directory
    (what test/redis_server.c does for the C tests); stopped by PID."""

    def __init__(self, binary, workdir):
        self.proc = None
        self.dir = os.path.join(workdir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        for _ in range(5):
            self.port = free_port()
            argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                    "--loglevel", "notice"]
            log("starting: " + " ".join(shlex.quote(a) for a in argv))
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            done = threading.Event()
            out = []
            up = []

            def read(proc=self.proc, done=done, out=out, up=up):
                for raw in proc.stdout:
                    out.append(raw.decode("utf-8", "replace"))
                    if b"Ready to accept connections" in raw and not up:
                        up.append(True)
                        done.set()
                done.set()  # it exited (the port was taken, say)
            threading.Thread(target=read, daemon=True).start()
            if not done.wait(10 * SLOW):
                self.stop()
                raise AssertionError("redis-server did not become ready:\n" + "".join(out))
            if up:
                log("redis-server %d on port %d" % (self.proc.pid, self.port))
                return
            self.proc.wait(timeout=10 * SLOW)
            log("redis-server exited at once on port %d: trying another" % self.port)
        self.proc = None
        raise AssertionError("redis-server would not start (5 ports tried)")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


def find_redis():
    """$UVCHAT_REDIS_SERVER, else redis-server on PATH; None when there is none."""
    env = os.environ.get("UVCHAT_REDIS_SERVER")
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which("redis-server")


# ---- a raw socket user (what nc does) --------------------------------------------------


class RawUser:
    def __init__(self, port, name):
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        self.buf = b""
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.buf += data
        except OSError:
            pass

    def send(self, text):
        self.sock.sendall(text.encode("utf-8") + b"\r\n")

    def text(self):
        with self.lock:
            return self.buf.decode("utf-8", "replace")

    def expect(self, needle, seconds=10):
        return wait_until(lambda: needle in self.text(), "%s to receive %r (got:\n%s)" % (
            self.name, needle, self.text()[-800:]), seconds)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the page ---------------------------------------------------------------------------


def start_browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1200,760",
              "--lang=en-US", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(20 * SLOW)
    driver.set_script_timeout(10 * SLOW)
    return driver, service


JS_LINES = """
return Array.from(document.querySelectorAll('#log > li.line')).map(li => li.textContent);
"""


class Page:
    def __init__(self, driver):
        self.d = driver

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def status(self):
        return self.d.find_element(By.ID, "status").text

    def title(self):
        return self.d.find_element(By.ID, "buffer-title").text

    def lines(self):
        return self.js(JS_LINES)

    def wait_line(self, needle, seconds=10):
        return wait_until(lambda: any(needle in l for l in self.lines()),
                          "the page to show %r (it shows %r)" % (needle, self.lines()[-8:]),
                          seconds)

    def type(self, text):
        box = self.d.find_element(By.ID, "input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def buffers(self):
        """[(name, unread badge or '', active, parted)] from the sidebar."""
        return self.js("""
          return Array.from(document.querySelectorAll('#buffers button')).map(b => [
            b.querySelector('.name').textContent,
            b.querySelector('.badge') ? b.querySelector('.badge').textContent : '',
            b.classList.contains('active'), b.classList.contains('parted')]);""")

    def open_buffer(self, name, title=None):
        title = title or name
        for b in self.d.find_elements(By.CSS_SELECTOR, "#buffers button"):
            if b.find_element(By.CSS_SELECTOR, ".name").text == name:
                b.click()
                wait_until(lambda: self.title() == title, "the page to show " + title)
                return
        raise AssertionError("no buffer %r in %r" % (name, self.buffers()))

    def members(self):
        return self.js("""return Array.from(document.querySelectorAll('#member-list .nick'))
                          .map(e => e.textContent);""")

    def no_alert(self):
        try:
            a = self.d.switch_to.alert
            text = a.text
            a.dismiss()
            raise AssertionError("the page ran a script from a message: alert(%r)" % text)
        except NoAlertPresentException:
            pass


def line_time(page, needle):
    """The datetime of the newest line of the page's log holding needle, and how many hold it."""
    return page.js("""const li = Array.from(document.querySelectorAll('#log > li'))
        .filter(li => li.textContent.includes(arguments[0]));
      return [li.length, li.length ? li[li.length - 1].querySelector('time')
                                        .getAttribute('datetime') : null];""", needle)


def server_time(user, needle):
    """The @time= tag of the line user received holding needle."""
    user.expect(needle)
    for line in user.text().split("\r\n"):
        if needle in line:
            m = re.match(r"@(?:\S*;)?time=([^; ]+)", line)
            assert m, "no server time on %r" % line
            return m.group(1)
    raise AssertionError("%r never came" % needle)


def check_ircv3(page, bob, tom):
    """uvchat offers server-time and echo-message, and the page asks for them: its own line is
    shown once, from the server's echo, and every line carries the server's time, the very
    one an IRC client with server-time gets."""
    page.open_buffer("Server", "Server messages")
    page.wait_line("capabilities:")
    caps = [l for l in page.lines() if "capabilities:" in l][-1]
    for cap in ("server-time", "echo-message", "message-tags"):
        assert cap in caps, caps
    page.open_buffer("#lobby")
    bob.send("CAP REQ :server-time")
    bob.expect("ACK :server-time")
    # another's line: shown at the time the server gave it
    tom.send("what time is it")
    when = server_time(bob, "PRIVMSG #lobby :what time is it")
    page.wait_line("what time is it")
    assert line_time(page, "what time is it") == [1, when], (line_time(page, "what time is it"), when)
    # one's own line: once, when the echo comes, with the echo's time
    page.type("said once")
    tom.expect("<ann> said once")
    when = server_time(bob, "PRIVMSG #lobby :said once")
    page.wait_line("said once")
    tom.send("after the echo")  # by the time this shows, a second echo would have too
    page.wait_line("after the echo")
    assert line_time(page, "said once") == [1, when], (line_time(page, "said once"), when)
    log("IRCv3: the page shows server times (%s) and its own line once" % when)


OLD_LINES = 120


def check_older(page, tom):
    """A room with more history than the page asks for on joining: scrolled to the top, the
    message list gets the older lines above the others, in order, each once, the view staying
    where it was; at the start of history it says so and asks no more."""
    tom.send("/join #archive")
    tom.expect("in #archive. /who lists them")
    for i in range(1, OLD_LINES + 1):
        tom.send("old line %03d" % i)
    tom.send("/join #lobby")  # answered once the 120 lines before it were handled
    tom.expect("people are in #lobby")
    page.type("/join #archive")
    wait_until(lambda: page.title() == "#archive", "the page to show #archive")

    def shown():
        return page.js("""return Array.from(document.querySelectorAll('#log > li.line'))
            .map(li => /old line (\\d+)/.exec(li.textContent)).filter(Boolean).map(m => +m[1]);""")

    def marker():
        return page.js("return document.querySelector('#log > li.older-marker').textContent")

    def top_line():
        """[data-id, top on screen] of the first line in view."""
        return page.js("""const log = document.getElementById('log');
            const top = log.getBoundingClientRect().top;
            const li = Array.from(log.querySelectorAll('li.line'))
              .find(li => li.getBoundingClientRect().bottom > top);
            return [li.dataset.id, li.getBoundingClientRect().top];""")

    def where(line_id):
        return page.js("""const li = document.querySelector('#log > li[data-id="' + arguments[0] + '"]');
            return li ? li.getBoundingClientRect().top : null;""", line_id)

    wait_until(lambda: shown() == list(range(OLD_LINES - 49, OLD_LINES + 1)),
               "the last 50 lines of #archive (it shows %r)" % (shown(),))
    wait_until(lambda: page.js("return window.uvchat.state.active.older") == "idle",
               "#archive ready for older lines")
    expect = list(range(OLD_LINES - 49, OLD_LINES + 1))
    for lo in (OLD_LINES - 99, 1):  # 50 more, then the last 20 (fewer than asked: the start)
        page.js("document.getElementById('log').scrollTop = 0")
        anchor, was = top_line()
        expect = list(range(lo, OLD_LINES + 1))
        wait_until(lambda: shown() == expect, "lines %d.. above the others (it shows %r)" % (lo, shown()))
        now = where(anchor)
        assert now is not None and abs(now - was) <= 2, \
            "the view jumped: the line at the top moved from %r to %r" % (was, now)
        assert page.js("return document.getElementById('log').scrollTop") > 0
    wait_until(lambda: marker() == "Start of history", "the start of history marked (%r)" % marker())
    assert page.js("return window.uvchat.state.active.older") == "done"
    # at the start, scrolling to the top again asks nothing and adds nothing
    page.js("document.getElementById('log').scrollTop = 0")
    page.js("document.getElementById('log').scrollTop = 1")
    assert page.js("return window.uvchat.client.historyAsked.size") == 0
    assert shown() == expect, shown()
    assert not any(b[1] for b in page.buffers() if b[0] == "#archive"), page.buffers()
    log("older history: %d lines of #archive by scrolling up, in order, each once" % len(expect))
    page.d.find_element(By.ID, "leave").click()
    wait_until(lambda: "#archive" not in [b[0] for b in page.buffers()], "#archive closed")
    wait_until(lambda: page.title() == "#lobby", "back in #lobby")


def check_hostile(page, tom):
    """Markup and bidi overrides in a message are shown as text, isolated."""
    evil = "<img src=x onerror=alert(1)> \u202eevil\u202c <script>alert(2)</script> <b>bold?</b>"
    tom.send(evil)
    page.wait_line("<img src=x onerror=alert(1)>")
    page.no_alert()
    counts = page.js("""return {img: document.getElementsByTagName('img').length,
        script: document.getElementsByTagName('script').length,
        b: document.querySelectorAll('#log b').length,
        onerror: document.querySelectorAll('[onerror]').length};""")
    assert counts == {"img": 0, "script": 1, "b": 0, "onerror": 0}, counts
    line = page.js("""const li = Array.from(document.querySelectorAll('#log > li'))
        .filter(li => li.textContent.includes('<img src=x'));
      const l = li[li.length - 1];
      const t = l.querySelector('.text'), n = l.querySelector('.nick');
      return {text: t.textContent, dir: t.getAttribute('dir'),
              tbidi: getComputedStyle(t).unicodeBidi, ntag: n.tagName,
              nbidi: getComputedStyle(n).unicodeBidi, nick: n.textContent};""")
    log("hostile line as rendered: %r" % line)
    # uvchat removes bidi overrides itself; the rest of the text arrives unchanged.
    assert "<img src=x onerror=alert(1)> " in line["text"], line
    assert "evil" in line["text"] and "<script>alert(2)</script> <b>bold?</b>" in line["text"], line
    assert line["dir"] == "auto" and line["tbidi"] == "isolate", line
    assert line["ntag"] == "BDI" and line["nbidi"] == "isolate" and line["nick"] == "tom", line

    # The page's own defence, for a server that passed the override on: a line that carries
    # U+202E is rendered with it, inside its isolated element only. (A private message, so
    # that the lobby stays as people see it for the screenshot.)
    page.js("window.uvchat.client.receive(arguments[0]);",
            ":mallory!~m@elsewhere PRIVMSG ann :\u202eoverride <img src=y onerror=alert(3)>")
    page.open_buffer("mallory")
    page.wait_line("override <img src=y")
    page.no_alert()
    iso = page.js("""const li = Array.from(document.querySelectorAll('#log > li'))
        .filter(li => li.textContent.includes('override <img'));
      const l = li[li.length - 1], t = l.querySelector('.text');
      const time = l.querySelector('time').getBoundingClientRect();
      const nick = l.querySelector('.nick').getBoundingClientRect();
      return {text: t.textContent, bidi: getComputedStyle(t).unicodeBidi,
              imgs: document.getElementsByTagName('img').length,
              order: time.left < nick.left && nick.left < t.getBoundingClientRect().left};""")
    assert iso["text"].startswith("\u202e") and iso["bidi"] == "isolate", iso
    assert iso["imgs"] == 0, iso
    assert iso["order"], "the override reordered the line's parts: %r" % iso
    page.d.find_element(By.ID, "leave").click()  # "Close" in a conversation
    wait_until(lambda: page.title() == "#lobby", "the conversation closed, back in #lobby")
    assert "mallory" not in [b[0] for b in page.buffers()], page.buffers()


def stop_leftovers(profile):
    """Chromium processes of this test's own profile that outlived driver.quit() (Linux:
    found by their --user-data-dir, which no other process has), stopped by PID."""
    if not os.path.isdir("/proc"):
        return
    mine = ("--user-data-dir=" + profile).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if mine in f.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
                    log("stopped leftover browser process %s" % pid)
        except OSError:
            pass


def run(args):
    work = tempfile.mkdtemp(prefix="uvchat-web-")
    profile = os.path.join(work, "profile")
    os.makedirs(args.out, exist_ok=True)
    server = driver = service = None
    users = []
    try:
        server = Server(args.uvchat, work, "127.0.0.1:0")
        web = server.ports["web"]
        url = "http://127.0.0.1:%d/" % web

        tom = RawUser(server.ports["text"], "tom")
        users.append(tom)
        tom.expect("Welcome to uvchat")
        tom.send("/nick tom")
        tom.expect("is now known as tom")

        driver, service = start_browser(profile)
        page = Page(driver)
        driver.get(url)
        log("page loaded: %s" % driver.title)
        assert driver.title == "uvchat", driver.title
        # A name someone has is refused at once, and the page asks for another.
        nick = driver.find_element(By.ID, "nick")
        submit = driver.find_element(By.CSS_SELECTOR, "#nick-form button[type=submit]")
        nick.send_keys("TOM")
        submit.click()
        wait_until(lambda: "is taken" in driver.find_element(By.ID, "login-error").text,
                   "the page to say the name is taken")
        assert driver.find_element(By.ID, "chat").get_attribute("hidden") is not None
        nick.clear()
        nick.send_keys("ann")
        submit.click()
        wait_until(lambda: page.status() == "Connected as ann", "the page to connect", 15)
        wait_until(lambda: page.title() == "#lobby", "the page to show #lobby")
        wait_until(lambda: "tom" in page.members() and "ann" in page.members(),
                   "tom and ann in the people list")
        tom.expect("ann joined")

        # Both ways in the same room.
        page.type("hello from the browser")
        tom.expect("<ann> hello from the browser")
        tom.send("hi ann, this is nc")
        page.wait_line("hi ann, this is nc")
        assert any(l.endswith("tom hi ann, this is nc") for l in page.lines()), page.lines()
        page.type("/me waves")
        tom.expect("* ann waves")

        check_older(page, tom)
        check_hostile(page, tom)

        # An IRC user's formatting: bold and italic shown as such, colour codes gone.
        bob = RawUser(server.ports["irc"], "bob")
        users.append(bob)
        bob.send("NICK bob")
        bob.send("USER bob 0 * :Bob")
        bob.expect(" 001 bob ")
        bob.send("JOIN #lobby")  # IRC clients join no room of themselves (--irc-autojoin off)
        bob.expect(" 366 bob #lobby ")
        bob.send("PRIVMSG #lobby :\x02bold\x02 and \x1ditalic\x1d and \x0304red\x03 text")
        page.wait_line("bold and italic and red text")
        fmt = page.js("""const l = Array.from(document.querySelectorAll('#log > li')).pop();
            return [Array.from(l.querySelectorAll('.f-b')).map(e => e.textContent),
                    Array.from(l.querySelectorAll('.f-i')).map(e => e.textContent),
                    /[\\x00-\\x1f]/.test(l.textContent)];""")
        assert fmt == [["bold"], ["italic"], False], fmt
        check_ircv3(page, bob, tom)
        bob.send("PRIVMSG ann :\x01ACTION hugs ann\x01")

        # Private messages: an unread marker until opened; answers reach the sender.
        tom.send("/msg ann psst, a secret")
        wait_until(lambda: ["tom", "1", False, False] in page.buffers(),
                   "a conversation with tom, 1 unread (%r)" % (page.buffers(),))
        wait_until(lambda: ["bob", "1", False, False] in page.buffers(),
                   "a conversation with bob, 1 unread (%r)" % (page.buffers(),))
        page.open_buffer("tom")
        page.wait_line("psst, a secret")
        assert ["tom", "", True, False] in page.buffers(), page.buffers()
        page.type("hello privately")
        tom.expect("[private] <ann> hello privately")
        page.open_buffer("bob")
        page.wait_line("bob hugs ann")

        # Rooms: join one, see who comes, set its topic; the room list knows it.
        page.type("/join #dev")
        wait_until(lambda: page.title() == "#dev", "the page to show #dev")
        tom.send("/join #dev")
        wait_until(lambda: "tom" in page.members(), "tom in #dev's people list")
        page.type("/topic Where the builders talk")
        tom.expect("Where the builders talk")
        wait_until(lambda: page.d.find_element(By.ID, "topic").text == "Where the builders talk",
                   "the topic in the page's header")
        tom.send("builds are green")
        page.wait_line("builds are green")
        # Leave with the button, come back from the room list.
        page.d.find_element(By.ID, "leave").click()
        wait_until(lambda: "#dev" not in [b[0] for b in page.buffers()], "#dev closed")
        tom.expect("ann left #dev")

        def click_room(name):
            for b in page.d.find_elements(By.CSS_SELECTOR, "#room-list button"):
                if b.find_element(By.CSS_SELECTOR, ".name").text == name:
                    b.click()
                    return True
            return False
        wait_until(lambda: click_room("#dev"), "#dev in the room list")
        wait_until(lambda: page.title() == "#dev", "#dev joined from the room list")
        tom.expect("ann joined #dev")
        wait_until(lambda: page.d.find_element(By.ID, "topic").text == "Where the builders talk",
                   "the topic shown again on joining")
        tom.send("/join #lobby")
        tom.expect("people are in #lobby")
        page.js("document.getElementById('list-refresh').click()")
        wait_until(lambda: page.js("""return Array.from(document.querySelectorAll('#room-list .name'))
            .map(e => e.textContent).join(' ')""") in ("#lobby #dev", "#dev #lobby"),
            "#lobby and #dev in the room list")
        tom.send("someone new in the lobby")
        wait_until(lambda: ["#lobby", "1", False, False] in page.buffers(),
                   "#lobby marked unread (%r)" % (page.buffers(),))

        # The screenshot for the README: the lobby, mid-conversation.
        page.open_buffer("#lobby")
        bob.send("PRIVMSG #lobby :welcome, ann! try /join #dev")
        page.wait_line("welcome, ann!")
        page.d.find_element(By.ID, "input").send_keys("glad to be here")
        shot = os.path.join(args.out, "web-client.png")
        driver.save_screenshot(shot)
        log("screenshot: " + shot)
        page.d.find_element(By.ID, "input").clear()

        # A phone: one column, the rooms behind a button.
        driver.set_window_size(390, 800)
        wait_until(lambda: page.d.find_element(By.ID, "menu-toggle").is_displayed(),
                   "the Rooms button on a narrow screen")
        wait_until(lambda: page.js(
            "return document.getElementById('sidebar').getBoundingClientRect().right") <= 0,
            "the room list out of the way on a phone")
        width = page.js("return document.documentElement.scrollWidth")
        assert width <= 390, "the page is wider than the phone: %r" % width
        page.d.find_element(By.ID, "menu-toggle").click()
        wait_until(lambda: page.js(
            "return document.getElementById('sidebar').getBoundingClientRect().left") >= 0,
            "the room list to slide in")
        time.sleep(0.3)  # the slide's transition, for the picture
        driver.save_screenshot(os.path.join(args.out, "web-client-phone.png"))
        page.d.find_element(By.ID, "input").send_keys(Keys.ESCAPE)
        driver.set_window_size(1200, 760)

        # The server goes away and comes back on the same port: the page reconnects alone
        # and rejoins its rooms.
        status = server.stop()
        assert status == 0, "the server exited %r:\n%s" % (status, "".join(server.lines[-20:]))
        for u in users:
            u.close()
        users.clear()
        wait_until(lambda: "trying again" in page.status(), "the page to notice the restart", 15)
        wait_until(lambda: any(b[0] == "#dev" and b[3] for b in page.buffers()),
                   "#dev marked parted while disconnected")
        server = Server(args.uvchat, work, "127.0.0.1:%d" % web)
        assert server.ports["web"] == web, server.ports
        wait_until(lambda: page.status() == "Connected as ann", "the page to reconnect", 45)
        wait_until(lambda: all(not b[3] for b in page.buffers() if b[0] in ("#lobby", "#dev")) and
                   {"#lobby", "#dev"} <= {b[0] for b in page.buffers()},
                   "#lobby and #dev rejoined (%r)" % (page.buffers(),))
        tom = RawUser(server.ports["text"], "tom")
        users.append(tom)
        tom.expect("Welcome to uvchat")
        tom.send("/nick tom")
        tom.expect("is now known as tom")
        tom.send("/join #dev")
        tom.expect("people are in #dev")
        tom.send("/who")
        tom.expect("@ann tom")
        page.open_buffer("#dev")
        page.type("back after the restart")
        tom.expect("<ann> back after the restart")
        tom.send("welcome back")
        page.wait_line("welcome back")

        # Nothing the page did broke its Content-Security-Policy or threw.
        problems = [e for e in driver.get_log("browser")
                    if "Content Security Policy" in e.get("message", "") or
                    (e.get("level") == "SEVERE" and e.get("source") == "javascript")]
        assert not problems, "the browser reported: %r" % problems
        status = server.stop()
        assert status == 0, "the server exited %r" % status
        server = None
        log("passed")
        return 0
    finally:
        for u in users:
            u.close()
        if driver is not None:
            try:
                driver.quit()
            except Exception as e:  # the driver is gone; its process is stopped below
                log("driver.quit: %s" % e)
        if service is not None and getattr(service, "process", None) is not None:
            if service.process.poll() is None:
                service.process.kill()
                service.process.wait(timeout=10)
        stop_leftovers(profile)
        if server is not None:
            try:
                server.stop()
            except AssertionError as e:
                log(str(e))
        shutil.rmtree(work, ignore_errors=True)


def run_cluster(args):
    """The browser across servers: a redis-server, two uvchat servers joined through it
    (--cluster), a browser user on server one's web port and a raw-socket text user on server
    two, talking both ways in #lobby (and /me); the page's people list and the text user's
    /who see each other, and a room joined on both sides carries talk and its topic."""
    redis_bin = find_redis()
    if redis_bin is None:
        skip("no redis-server (Debian/Ubuntu: redis-server)")
    work = tempfile.mkdtemp(prefix="uvchat-webcluster-")
    profile = os.path.join(work, "profile")
    redis = driver = service = None
    servers = []
    users = []
    try:
        redis = Redis(redis_bin, work)
        url = "redis://127.0.0.1:%d" % redis.port
        for name in ("one", "two"):
            d = os.path.join(work, name)  # each its own data dir and empty config
            os.makedirs(d)
            servers.append(Server(args.uvchat, d, "127.0.0.1:0",
                                  extra=["--cluster", url, "--cluster-name", name],
                                  ready="cluster: connected to Redis"))
        one, two = servers
        one.wait_log("cluster: server two seen")
        two.wait_log("cluster: server one seen")

        # tom: a text user of server two, in #lobby (where text users start).
        tom = RawUser(two.ports["text"], "tom")
        users.append(tom)
        tom.expect("Welcome to uvchat")
        tom.send("/nick tom")
        tom.expect("is now known as tom")

        # ann: a browser user of server one. Her page sees tom, on the other server, in the
        # people list; tom, there, sees her arrive.
        driver, service = start_browser(profile)
        page = Page(driver)
        driver.get("http://127.0.0.1:%d/" % one.ports["web"])
        assert driver.title == "uvchat", driver.title
        # tom's nick is held on server two: server one refuses it too.
        nick = driver.find_element(By.ID, "nick")
        submit = driver.find_element(By.CSS_SELECTOR, "#nick-form button[type=submit]")
        nick.send_keys("tom")
        submit.click()
        wait_until(lambda: "is taken" in driver.find_element(By.ID, "login-error").text,
                   "the page to say tom's name (held on server two) is taken")
        nick.clear()
        nick.send_keys("ann")
        submit.click()
        wait_until(lambda: page.status() == "Connected as ann", "the page to connect", 15)
        wait_until(lambda: page.title() == "#lobby", "the page to show #lobby")
        wait_until(lambda: "tom" in page.members() and "ann" in page.members(),
                   "tom (on server two) and ann in the people list (%r)" % (page.members(),))
        tom.expect("*** ann joined #lobby")

        # Both ways in the same room, across the servers.
        page.type("hello from the browser on one")
        tom.expect("<ann> hello from the browser on one")
        tom.send("hi ann, this is nc on two")
        page.wait_line("hi ann, this is nc on two")
        assert any(l.endswith("tom hi ann, this is nc on two") for l in page.lines()), page.lines()
        page.type("/me waves across")
        tom.expect("* ann waves across")
        tom.send("/who")
        tom.expect("ann tom")

        # A room both join, its topic set from the page; a private message each way.
        page.type("/join #dev")
        wait_until(lambda: page.title() == "#dev", "the page to show #dev")
        tom.send("/join #dev")
        tom.expect("in #dev")
        wait_until(lambda: "tom" in page.members(), "tom in #dev's people list")
        page.type("/topic Builders on two servers")
        tom.expect("Builders on two servers")
        tom.send("builds are green on two")
        page.wait_line("builds are green on two")
        tom.send("/msg ann psst from two")
        wait_until(lambda: ["tom", "1", False, False] in page.buffers(),
                   "a conversation with tom, 1 unread (%r)" % (page.buffers(),))
        page.open_buffer("tom")
        page.wait_line("psst from two")
        page.type("psst back from one")
        tom.expect("[private] <ann> psst back from one")
        log("cluster: the browser on one and the text user on two chat both ways")

        problems = [e for e in driver.get_log("browser")
                    if "Content Security Policy" in e.get("message", "") or
                    (e.get("level") == "SEVERE" and e.get("source") == "javascript")]
        assert not problems, "the browser reported: %r" % problems
        for u in users:
            u.close()
        users.clear()
        while servers:
            srv = servers.pop()
            status = srv.stop()
            assert status == 0, "server %d exited %r:\n%s" % (
                srv.proc.pid, status, "".join(srv.lines[-20:]))
        log("passed")
        return 0
    finally:
        for u in users:
            u.close()
        if driver is not None:
            try:
                driver.quit()
            except Exception as e:  # the driver is gone; its process is stopped below
                log("driver.quit: %s" % e)
        if service is not None and getattr(service, "process", None) is not None:
            if service.process.poll() is None:
                service.process.kill()
                service.process.wait(timeout=10)
        stop_leftovers(profile)
        for srv in servers:
            try:
                srv.stop()
            except AssertionError as e:
                log(str(e))
        if redis is not None:
            redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvchat", required=True, help="the uvchat binary")
    ap.add_argument("--out", required=True, help="where the screenshots go")
    ap.add_argument("--case", choices=("single", "cluster"), default="single",
                    help="single: one server (the default); cluster: a browser user and a "
                    "text user on two servers joined through a redis-server")
    args = ap.parse_args()
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            skip("%s is missing (Debian/Ubuntu: %s)" % (path, pkg))
    try:
        return run_cluster(args) if args.case == "cluster" else run(args)
    except AssertionError as e:
        print("FAILED: %s" % e, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Open an HTML page in headless Chromium with the network off; report what loaded.

The probe runs in the page: it waits for the map (``landuse.ready``, set after the first frame
is drawn), optionally clicks the map at a point as a user would (real mouse events on the
element under the point), and writes what it saw into the DOM, which Chromium dumps.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # every host name fails: the network is off

PROBE_HEAD = "<script>window.__errors=[];window.addEventListener('error',e=>window.__errors.push(String(e.message)));" \
             "</script>"
PROBE_BODY = """<script>window.addEventListener('load',()=>{
function mapObject(){const k=Object.keys(window).find(n=>/^map_[0-9a-f]{32}$/.test(n));return k&&window[k];}
function click(m,ll){const p=m.latLngToContainerPoint(ll);const r=m.getContainer().getBoundingClientRect();
 const x=r.left+p.x,y=r.top+p.y;const t=document.elementFromPoint(x,y);
 for(const type of ['mousedown','mouseup','click']){t.dispatchEvent(new MouseEvent(type,{bubbles:true,cancelable:true,
  clientX:x,clientY:y,view:window}));}}
function report(){
const m=mapObject();
if(m&&window.__landuseClick)click(m,window.__landuseClick);
setTimeout(()=>{
const rows=[...document.querySelectorAll('.leaflet-control-layers-overlays label')];
const labels=rows.map(s=>s.textContent.trim());
const checked=rows.filter(l=>l.querySelector('input').checked).map(l=>l.textContent.trim());
const pop=document.querySelector('.leaflet-popup');
const out={leaflet: typeof L!=='undefined', maps: document.querySelectorAll('.leaflet-container').length,
 drawn: document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane path').length,
 markers: document.querySelectorAll('.leaflet-marker-pane *').length,
 panel: !!document.getElementById('landuse-panel'), legend: !!document.getElementById('landuse-legend'),
 scale: (document.querySelector('.leaflet-control-scale-line')||{}).textContent||'',
 load_ms: Math.round(performance.getEntriesByType('navigation')[0].loadEventStart),
 ready_ms: window.landuse&&window.landuse.ready?Math.round(window.landuse.ready):null,
 labels, checked, errors: window.__errors,
 layout: window.landuse&&window.landuse.layout&&m?window.landuse.layout(m):null,
 folded: [...document.querySelectorAll('.lu-card')].map(c=>[c.id,c.classList.contains('lu-folded')]),
 popup: (document.querySelector('.leaflet-popup-content')||{}).textContent||'',
 popup_html: (document.querySelector('.leaflet-popup-content')||{}).innerHTML||'',
 popup_px: pop?pop.offsetHeight:0,
 viewport: [window.innerWidth, window.innerHeight]};
const d=document.createElement('pre');d.id='landuse-probe';d.textContent=JSON.stringify(out);
document.body.appendChild(d);},400)}
(function wait(n){if((window.landuse&&window.landuse.ready)||n>100||!window.landuse)setTimeout(report,100);
 else setTimeout(()=>wait(n+1),50);})(0);});</script>"""


def _run(args: list[str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def probe(html_path: Path, tmp: Path, click: tuple[float, float] | None = None, size: str = "1400,1000") -> dict:
    """Load a copy of the page with a probe script; return what the probe saw.

    Parameters
    ----------
    html_path : Path
        The page.
    tmp : Path
        Folder for the copy and the browser profile.
    click : (lat, lon), optional
        Click the map there first, as a user's first click; the probe reports the popup that
        opened (``popup`` text, ``popup_html``, ``popup_px`` height).
    size : str
        Window size ``"width,height"``.

    Returns
    -------
    dict
        ``errors``, ``labels`` (layer list) and ``checked`` (shown when the map opens),
        ``layout`` (the region's bounds and each control's rectangle in map pixels),
        ``ready_ms`` (navigation start to the first drawn frame of the map), ``load_ms`` …
    """
    page = html_path.read_text(encoding="utf-8")
    head = PROBE_HEAD + (f"<script>window.__landuseClick=[{click[0]},{click[1]}];</script>" if click else "")
    page = page.replace("<head>", "<head>" + head, 1).replace("</body>", PROBE_BODY + "</body>", 1)
    copy = tmp / f"probe_{html_path.name}"
    copy.write_text(page, encoding="utf-8")
    res = _run([f"--user-data-dir={tmp / 'chromium'}", "--virtual-time-budget=30000", f"--window-size={size}",
                "--dump-dom", copy.as_uri()])
    found = re.search(r'<pre id="landuse-probe">(.*?)</pre>', res.stdout, re.S)
    if not found:
        raise AssertionError(f"probe did not run; chromium said: {res.stderr[-2000:]}")
    text = found.group(1)
    for entity, char in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return json.loads(text)


def screenshot(html_path: Path, png: Path, tmp: Path, size: str = "1400,900", click: tuple[float, float] | None = None
               ) -> Path:
    """Screenshot of the page with the network off (``click``: (lat, lon) clicked first, popup open)."""
    page = html_path
    if click:
        text = html_path.read_text(encoding="utf-8")
        script = ("<style>.leaflet-fade-anim .leaflet-popup{transition:none}</style>"  # the popup, not its fade-in
                  "<script>window.addEventListener('load',()=>setTimeout(()=>{const k=Object.keys(window).find(n=>"
                  "/^map_[0-9a-f]{32}$/.test(n));const m=window[k];const p=m.latLngToContainerPoint("
                  f"[{click[0]},{click[1]}]);const r=m.getContainer().getBoundingClientRect();const x=r.left+p.x,"
                  "y=r.top+p.y;const t=document.elementFromPoint(x,y);for(const type of ['mousedown','mouseup',"
                  "'click']){t.dispatchEvent(new MouseEvent(type,{bubbles:true,cancelable:true,clientX:x,clientY:y,"
                  "view:window}));}},500));</script>")
        page = tmp / f"shot_{html_path.name}"
        page.write_text(text.replace("</body>", script + "</body>", 1), encoding="utf-8")
    res = _run([f"--user-data-dir={tmp / 'chromium-shot'}", f"--window-size={size}", "--virtual-time-budget=30000",
                f"--screenshot={png}", page.as_uri()])
    if res.returncode != 0 or not png.is_file():
        raise AssertionError(f"no screenshot; chromium said: {res.stderr[-2000:]}")
    return png


def overlaps(layout: dict) -> list[dict]:
    """Controls whose rectangle meets the region's bounds (map pixels), from :func:`probe`'s ``layout``."""
    r = layout["region"]
    return [c for c in layout["controls"]
            if c["x0"] < r["x1"] and c["x1"] > r["x0"] and c["y0"] < r["y1"] and c["y1"] > r["y0"]]


def open_seconds(html_path: Path, runs: int = 5, size: str = "1366,768") -> tuple[list[float], str]:
    """Seconds from navigation start until the map's first frame is drawn, per run.

    Selenium (when installed) drives Chromium in real time; without it, the probe's
    ``ready_ms`` is used (Chromium's virtual time: script work counts in real time, idle
    waits do not). Pages without ``landuse.ready`` (older maps) count until two animation
    frames after the load event.

    Returns
    -------
    (list of float, str)
        The times and how they were measured.
    """
    script = ("const done=arguments[arguments.length-1];(function w(n){if(window.landuse&&window.landuse.ready)"
              "done(window.landuse.ready);else if(!window.landuse||n>400)requestAnimationFrame(()=>"
              "requestAnimationFrame(()=>done(performance.now())));else setTimeout(()=>w(n+1),10);})(0);")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return [probe(html_path, Path(tmp), size=size)["ready_ms"] / 1000 for _ in range(runs)], \
                "headless Chromium, virtual time (selenium not installed)"
    options = Options()
    for flag in FLAGS + [f"--window-size={size}"]:
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    driver_path = shutil.which("chromedriver")
    driver = webdriver.Chrome(options=options, service=Service(driver_path) if driver_path else None)
    try:
        driver.set_script_timeout(120)
        times = []
        for _ in range(runs):
            driver.get(Path(html_path).resolve().as_uri())
            times.append(driver.execute_async_script(script) / 1000)
        return times, "headless Chromium driven by selenium, real time"
    finally:
        driver.quit()

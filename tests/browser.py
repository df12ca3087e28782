"""Open an HTML page in headless Chromium with the network off; report what loaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # every host name fails: the network is off

PROBE_HEAD = "<script>window.__errors=[];window.addEventListener('error',e=>window.__errors.push(String(e.message)));" \
             "</script>"
PROBE_BODY = """<script>window.addEventListener('load',()=>{setTimeout(()=>{
if(window.__landuseClick){const k=Object.keys(window).find(n=>n.startsWith('map_'));const m=window[k];
 const p=m.latLngToContainerPoint(window.__landuseClick);const r=m.getContainer().getBoundingClientRect();
 const x=r.left+p.x,y=r.top+p.y;const t=document.elementFromPoint(x,y);
 for(const type of ['mousedown','mouseup','click']){t.dispatchEvent(new MouseEvent(type,{bubbles:true,cancelable:true,
  clientX:x,clientY:y,view:window}));}}
setTimeout(()=>{
const labels=[...document.querySelectorAll('.leaflet-control-layers-overlays label span')].map(s=>s.textContent.trim());
const out={leaflet: typeof L!=='undefined', maps: document.querySelectorAll('.leaflet-container').length,
 drawn: document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane path').length,
 markers: document.querySelectorAll('.leaflet-marker-pane *').length,
 panel: !!document.getElementById('landuse-panel'), legend: !!document.getElementById('landuse-legend'),
 scale: (document.querySelector('.leaflet-control-scale-line')||{}).textContent||'',
 load_ms: Math.round(performance.getEntriesByType('navigation')[0].loadEventStart),
 labels, errors: window.__errors,
 popup: (document.querySelector('.leaflet-popup-content')||{}).textContent||'',
 popup_px: (document.querySelector('.leaflet-popup')||{offsetHeight:0}).offsetHeight};
const d=document.createElement('pre');d.id='landuse-probe';d.textContent=JSON.stringify(out);
document.body.appendChild(d);},300)},300)});</script>"""


def probe(html_path: Path, tmp: Path, click: tuple[float, float] | None = None) -> dict:
    """Load a copy of the page with a probe script; return what the probe saw. ``click``
    (lat, lon) clicks the map there first, as a user's first click (real mouse events on the
    element under the point), and the probe reports the popup that opened."""
    page = html_path.read_text(encoding="utf-8")
    head = PROBE_HEAD + (f"<script>window.__landuseClick=[{click[0]},{click[1]}];</script>" if click else "")
    page = page.replace("<head>", "<head>" + head, 1).replace("</body>", PROBE_BODY + "</body>", 1)
    copy = tmp / f"probe_{html_path.name}"
    copy.write_text(page, encoding="utf-8")
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'chromium'}", "--virtual-time-budget=20000",
                          "--window-size=1400,1000",
                          "--dump-dom", copy.as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="landuse-probe">(.*?)</pre>', res.stdout, re.S)
    if not found:
        raise AssertionError(f"probe did not run; chromium said: {res.stderr[-2000:]}")
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(html_path: Path, png: Path, tmp: Path, size: str = "1400,900") -> Path:
    """Screenshot of the page with the network off."""
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'chromium-shot'}", f"--window-size={size}",
                    "--virtual-time-budget=20000", f"--screenshot={png}", html_path.as_uri()],
                   capture_output=True, text=True, timeout=180, check=True)
    return png

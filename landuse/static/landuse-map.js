/* landuse map: layers built from one data block when first shown, one popup per parcel,
   folding controls, and the region fitted between the controls. Part of landuse (MIT).
   The data block (script#landuse-data) is written by landuse/maps.py. */
(function () {
  'use strict';
  var LU = window.landuse = window.landuse || {};
  var D = null;
  var POINTS = [];

  function data() {
    if (!D) { D = JSON.parse(document.getElementById('landuse-data').textContent); }
    return D;
  }
  LU.data = data;

  // --- geometry: Google's encoded polylines (lat, lng), 10^-precision degrees -------------------------------
  function decode(s, f) {
    var out = [], i = 0, n = s.length, lat = 0, lng = 0, b, shift, r;
    while (i < n) {
      shift = 0; r = 0;
      do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << shift; shift += 5; } while (b >= 32);
      lat += (r & 1) ? ~(r >> 1) : (r >> 1);
      shift = 0; r = 0;
      do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << shift; shift += 5; } while (b >= 32);
      lng += (r & 1) ? ~(r >> 1) : (r >> 1);
      out.push(new L.LatLng(lat / f, lng / f));
    }
    return out;
  }
  function polygons(g) {  // [[ring, hole, ...], ...] -> latlngs of a (multi)polygon
    var f = Math.pow(10, data().precision);
    return g.map(function (p) { return p.map(function (r) { return decode(r, f); }); });
  }
  function lines(g) {
    var f = Math.pow(10, data().precision);
    return g.map(function (r) { return decode(r, f); });
  }

  // --- words and numbers -------------------------------------------------------------------------------------
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function num(v, d) {
    if (v === null || v === undefined) { return '–'; }
    return Number(v).toLocaleString('en-GB', {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0});
  }
  function pct(p) { return p === null || p === undefined ? '' : (p < 1 ? '<1' : num(p)) + ' %'; }
  function hex(c) { return [1, 3, 5].map(function (k) { return parseInt(c.substr(k, 2), 16); }); }
  function scoreColor(s) {
    var c = data().colors;
    if (s === null || s === undefined) { return '#999999'; }
    var x = Math.max(0, Math.min(100, s)) / 100 * (c.length - 1), k = Math.min(Math.floor(x), c.length - 2);
    var a = hex(c[k]), b = hex(c[k + 1]), t = x - k;
    return 'rgb(' + [0, 1, 2].map(function (j) { return Math.round(a[j] + (b[j] - a[j]) * t); }).join(',') + ')';
  }

  // --- the parcel popup --------------------------------------------------------------------------------------
  function reasons(k, i) {  // [{text, source, short, status, pct}] largest share first
    var T = data().techs[k], r = data().parcels.t[k].r[i], out = [];
    for (var j = 0; j < r.length; j += 2) {
      var w = T.reasons[r[j]];
      out.push({text: w.text, source: w.source, short: w.short, status: w.status, note: w.note, pct: r[j + 1]});
    }
    return out.sort(function (a, b) { return (b.pct === null ? 101 : b.pct) - (a.pct === null ? 101 : a.pct); });
  }
  // the legal reference in the headline (a long source that cites none only in the details)
  function cite(w) {
    var c = w.short && w.short !== w.source ? w.short : (w.source && w.source.length <= 60 ? w.source : '');
    return c ? ' — ' + esc(c) : '';
  }

  function weakest(k, i) {
    var T = data().techs[k], sub = data().parcels.t[k].sub, best = null;
    T.criteria.forEach(function (c, j) {
      var v = sub[j][i];
      if (v !== null && v < 100 && (best === null || v < best.v)) { best = {label: c.label, v: v}; }
    });
    return best;
  }

  function headline(k, i) {
    var d = data(), T = d.techs[k], P = d.parcels.t[k], e = P.e[i], s = P.s[i], rs = reasons(k, i), h = [];
    h.push('<div class="lu-t" style="border-color:' + T.color + '"><b>' + esc(T.title) + '</b>: ');
    if (e > 0) {
      h.push('score <b>' + (s === null ? '–' : num(s)) + '</b>/100 · ' + num(e, 2) + ' ha eligible');
      (T.estimates || []).forEach(function (o, j) {
        var v = P.x && P.x[j][i];
        if (o.headline && !o.apart && v) { h.push(' · ' + num(v, o.decimals) + ' ' + esc(o.unit === 'count' ? '' : o.unit) + (o.unit === 'count' ? ' ' + esc(o.label.toLowerCase()) : '')); }
      });
      var why = [], w = weakest(k, i);
      if (w) { why.push('weakest criterion: ' + esc(w.label) + ' ' + num(w.v)); }
      if (rs.length) { why.push(pct(rs[0].pct) + ' excluded: ' + esc(rs[0].text) + cite(rs[0]) + (rs.length > 1 ? ' (+' + (rs.length - 1) + ' more)' : '')); }
      if (why.length) { h.push('<div class="lu-why">' + why.join('; ') + '</div>'); }
    } else {
      h.push('<b>excluded</b>');
      if (rs.length) {
        h.push('<div class="lu-why">' + esc(rs[0].text) + cite(rs[0]) +
               (rs[0].pct !== null && rs[0].pct < 100 ? ' (' + pct(rs[0].pct) + ')' : '') +
               (rs.length > 1 ? ' (+' + (rs.length - 1) + ' more)' : '') + '</div>');
      }
    }
    h.push('</div>');
    return h.join('');
  }

  function details(k, i) {
    var d = data(), T = d.techs[k], P = d.parcels.t[k], h = [], j;
    var est = T.estimates || [];
    var rows = function (x, apart) {
      var out = [];
      est.forEach(function (o, j) { if (o.apart === apart && x && x[j][i] !== null && (x[j][i] || (!apart && P.e[i] > 0))) { out.push('<tr><td>' + esc(o.label) + '</td><td class="lu-n">' + num(x[j][i], o.decimals) + ' ' + esc(o.unit === 'count' ? '' : o.unit) + '</td></tr>'); } });
      return out.join('');
    };
    var real = rows(P.x, false);
    if (real) {
      var none = est.every(function (o, j) { return o.apart || !P.x[j][i]; });
      h.push('<div class="lu-sec">Realistic tier (one use per hectare)</div><table>' + real + '</table>' +
             (none ? '<div class="lu-note">The realistic tier does not use this parcel for ' + esc(T.title) + '.</div>' : ''));
    }
    var techn = rows(P.xt, false);
    if (techn) { h.push('<div class="lu-sec">Technical tier (every eligible hectare)</div><table>' + techn + '</table>'); }
    var apart = rows(P.x, true);
    if (apart) { h.push('<div class="lu-sec">Apart from both tiers</div><table>' + apart + '</table>'); }
    if (P.e[i] > 0 && T.criteria.length) {
      h.push('<div class="lu-sec">Score: weighted mean of the criteria (0–100)</div><table>');
      T.criteria.forEach(function (c, j) {
        h.push('<tr><td' + (c.source ? ' title="' + esc(c.source) + '"' : '') + '>' + esc(c.label) + '</td><td class="lu-n">' +
               num(P.sub[j][i]) + '</td><td class="lu-w">×' + (c.weight === null ? '–' : num(c.weight, c.weight % 1 ? 1 : 0)) + '</td></tr>');
      });
      h.push('</table>');
    }
    var rs = reasons(k, i);
    if (rs.length) {
      h.push('<div class="lu-sec">' + (P.e[i] > 0 ? 'Excluded in part' : 'Excluded') + ' (share of the parcel, each rule on its own)</div><ul>');
      rs.forEach(function (w) {
        h.push('<li>' + (w.pct !== null ? '<b>' + pct(w.pct) + '</b> ' : '') + esc(w.text) + (w.note ? ' (' + esc(w.note) + ')' : '') +
               (w.source ? '<div class="lu-src">' + esc(w.source) + (w.status ? ' (' + esc(w.status) + ')' : '') + '</div>' : '') + '</li>');
      });
      h.push('</ul>');
    }
    if (!h.length) { return ''; }
    return '<details><summary>' + esc(T.title) + ': details and sources</summary>' + h.join('') + '</details>';
  }

  function uses(i) {
    var d = data(), u = d.parcels.u;
    if (!u) { return ''; }
    if (!u[i]) { return '<div class="lu-use">Realistic tier (one use per hectare): no use allocated</div>'; }
    var parts = [];
    for (var j = 0; j < u[i].length; j += 2) {
      var T = d.techs[u[i][j]];
      parts.push('<i class="lu-sym" style="background:' + T.color + '"></i> ' + esc(T.title) + ' ' + num(u[i][j + 1], 2) + ' ha');
    }
    return '<div class="lu-use"><b>Realistic tier (one use per hectare):</b> ' + parts.join(' · ') + '</div>';
  }

  function parcelPopup(i, focus, extra) {
    var d = data(), P = d.parcels, h = [];
    if (i < 0) { return extra || ''; }
    h.push('<div class="lu-pop">');
    if (extra) { h.push(extra); }
    h.push('<div class="lu-h">Parcel ' + esc(P.id[i]) + '</div>');
    h.push('<div class="lu-sub">' + esc(d.municipalities[P.m[i]]) + ' · ' + esc(d.classes[P.c[i]]) + ' · ' + num(P.ha[i], 2) + ' ha</div>');
    h.push(uses(i));
    var order = d.techs.map(function (t, k) { return k; });
    if (focus !== undefined && focus !== null) { order.splice(order.indexOf(focus), 1); order.unshift(focus); }
    order.forEach(function (k) { h.push(headline(k, i)); });
    order.forEach(function (k) { h.push(details(k, i)); });
    h.push('</div>');
    return h.join('');
  }
  LU.parcelPopup = parcelPopup;

  function tooltip(i, k) {
    var d = data(), P = d.parcels, s = esc(d.municipalities[P.m[i]]) + ' · ' + esc(d.classes[P.c[i]]) + ' · ' + num(P.ha[i], 1) + ' ha';
    if (k === undefined) { return s; }
    var T = d.techs[k], t = P.t[k];
    return esc(T.title) + ': ' + (t.e[i] > 0 ? 'score ' + (t.s[i] === null ? '–' : num(t.s[i])) : 'excluded') + '<br>' + s;
  }

  function fieldsTable(labels, f, j) {
    var h = ['<table>'];
    labels.forEach(function (label, c) {
      var v = f[c][j];
      if (typeof v === 'number') { v = num(v, Math.abs(v) < 10 && v % 1 ? 2 : v % 1 ? 1 : 0); } else if (v === true) { v = 'yes'; } else if (v === false) { v = 'no'; } else if (v === null) { v = '–'; } else { v = esc(v); }
      h.push('<tr><td>' + esc(label) + '</td><td class="lu-n">' + v + '</td></tr>');
    });
    return h.join('') + '</table>';
  }

  // --- layers ------------------------------------------------------------------------------------------------
  // Features that share a style are drawn as one path (a multipolygon on Leaflet's canvas): a few dozen
  // objects instead of thousands, so the map opens fast. A click or the mouse finds the feature under it.
  function popupOptions(map) {
    return {maxWidth: 380, minWidth: 260, maxHeight: Math.max(240, Math.min(760, map.getSize().y - 80)),
            autoPanPadding: [12, 12], className: 'lu-popup'};
  }
  function cached(set, j) {  // latlngs and bounding box of feature j of a data set, decoded once
    if (!set._ll) { set._ll = []; set._box = []; }
    if (!set._ll[j]) {
      var ll = polygons(set.g[j]), b = [Infinity, Infinity, -Infinity, -Infinity];
      ll.forEach(function (p) { p[0].forEach(function (c) {
        if (c.lat < b[0]) { b[0] = c.lat; } if (c.lng < b[1]) { b[1] = c.lng; }
        if (c.lat > b[2]) { b[2] = c.lat; } if (c.lng > b[3]) { b[3] = c.lng; }
      }); });
      set._ll[j] = ll; set._box[j] = b;
    }
    return set._ll[j];
  }
  function inside(ll, lat, lng) {  // even-odd over every ring of the feature
    var c = false;
    ll.forEach(function (p) { p.forEach(function (r) {
      for (var a = 0, b = r.length - 1; a < r.length; b = a++) {
        var A = r[a], B = r[b];
        if ((A.lat > lat) !== (B.lat > lat) && lng < (B.lng - A.lng) * (lat - A.lat) / (B.lat - A.lat) + A.lng) { c = !c; }
      }
    }); });
    return c;
  }
  function hit(set, members, latlng) {  // the member feature under a point (near its edge: the box that holds it)
    var lat = latlng.lat, lng = latlng.lng, near = -1;
    for (var m = 0; m < members.length; m++) {
      var j = members[m], b = set._box[j];
      if (lat < b[0] || lat > b[2] || lng < b[1] || lng > b[3]) { continue; }
      if (inside(set._ll[j], lat, lng)) { return j; }
      if (near < 0) { near = j; }
    }
    return near;
  }
  var HL = null;
  function highlight(map, ll) {
    if (!map.getPane('lu-hl')) {
      var pane = map.createPane('lu-hl');
      pane.style.zIndex = 445; pane.style.pointerEvents = 'none';
    }
    if (!HL) { HL = L.polygon([], {color: '#000000', weight: 2, fill: false, interactive: false, pane: 'lu-hl',
                                   renderer: L.canvas({pane: 'lu-hl'})}); }
    if (ll) { HL.setLatLngs(ll); if (!map.hasLayer(HL)) { HL.addTo(map); } } else if (map.hasLayer(HL)) { map.removeLayer(HL); }
  }

  // group: the layer; set: its data set; members: feature indexes; key(j): style key; style(key): path style;
  // popup(j) and tip(j): HTML of a feature's popup and tooltip.
  function paths(group, map, set, members, key, style, popup, tip) {
    var byKey = {}, keys = [];
    members.forEach(function (j) {
      var k = key(j);
      if (!byKey[k]) { byKey[k] = []; keys.push(k); }
      byKey[k].push(j);
    });
    keys.forEach(function (k) {
      var list = byKey[k], all = [];
      list.forEach(function (j) { cached(set, j).forEach(function (p) { all.push(p); }); });
      var path = L.polygon(all, style(k)), last = -2;
      path.bindTooltip('', {sticky: true});
      path.on('mousemove', function (e) {
        var j = hit(set, list, e.latlng);
        if (j !== last) {
          last = j;
          path.setTooltipContent(j >= 0 ? tip(j) : '');
          highlight(map, j >= 0 ? set._ll[j] : null);
        }
      });
      path.on('mouseout', function () { last = -2; highlight(map, null); });
      path.on('click', function (e) {
        var j = hit(set, list, e.latlng);
        if (j >= 0) { L.popup(popupOptions(map)).setLatLng(e.latlng).setContent(popup(j)).openOn(map); }
      });
      group.addLayer(path);
    });
  }
  function range(n) { var out = []; for (var j = 0; j < n; j++) { out.push(j); } return out; }
  var STEP = 2;  // score colours in steps of 2 points

  function build(group, spec, map) {
    var d = data(), P = d.parcels;
    if (spec.kind === 'parcels') {
      paths(group, map, P, range(P.g.length), function () { return 'p'; },
            // no fill to draw: on Leaflet's canvas a polygon takes clicks inside it all the same
            function () { return {color: '#555555', weight: 0.6, fill: false}; },
            function (i) { return parcelPopup(i); }, function (i) { return tooltip(i); });
    } else if (spec.kind === 'score') {
      var k = spec.tech, t = P.t[k];
      paths(group, map, P, range(P.g.length),
            function (i) { return t.e[i] > 0 ? (t.s[i] === null ? 'na' : String(Math.round(t.s[i] / STEP) * STEP)) : 'x'; },
            function (c) {
              return c === 'x' ? {color: '#444444', weight: 0.5, fillColor: d.excluded, fillOpacity: 0.5}
                : {color: '#444444', weight: 0.5, fillColor: c === 'na' ? '#999999' : scoreColor(Number(c)), fillOpacity: 0.7};
            },
            function (i) { return parcelPopup(i, k); }, function (i) { return tooltip(i, k); });
    } else if (spec.kind === 'eligible' || spec.kind === 'allocation' || spec.kind === 'result') {
      var S = d.layers[spec.data], parcelOf = function (j) { return S.p ? S.p[j] : -1; };
      paths(group, map, S, range(S.g.length),
            function (j) { return spec.kind === 'allocation' ? String(S.u[j]) : 'f'; },
            function (c) {
              if (spec.kind === 'eligible') { var e = d.techs[spec.tech].color; return {color: e, weight: 1, fillColor: e, fillOpacity: 0.45}; }
              if (spec.kind === 'allocation') { var u = d.techs[Number(c)].color; return {color: u, weight: 0.5, fillColor: u, fillOpacity: 0.75}; }
              return spec.style === 'outline' ? {color: spec.color, weight: 1.5, dashArray: '4 4', fillOpacity: 0, fill: true}
                : {color: spec.color, weight: 1, fillColor: spec.color, fillOpacity: 0.8};
            },
            function (j) {
              var p = parcelOf(j), head = '';
              if (spec.kind === 'allocation') {
                var T = d.techs[S.u[j]];
                head = '<div class="lu-layer" style="border-color:' + T.color + '"><b>Realistic tier: ' + esc(T.title) + '</b>' + fieldsTable(spec.labels, S.f, j) + '</div>';
              } else if (spec.kind === 'result') {
                head = '<div class="lu-layer" style="border-color:' + spec.color + '"><b>' + esc(spec.title) + '</b>' + fieldsTable(spec.labels, S.f, j) + '</div>';
              }
              return p >= 0 ? parcelPopup(p, spec.kind === 'allocation' ? undefined : spec.tech, head) : '<div class="lu-pop">' + head + '</div>';
            },
            function (j) {
              var p = parcelOf(j);
              if (spec.kind === 'allocation') { return 'Realistic tier: ' + esc(d.techs[S.u[j]].title) + ' ' + num(S.f[0][j], 2) + ' ha'; }
              if (spec.kind === 'eligible') { return p >= 0 ? tooltip(p, spec.tech) : ''; }
              return esc(spec.title) + (p >= 0 ? '<br>' + tooltip(p) : '');
            });
    } else if (spec.kind === 'points') {
      var Q = d.layers[spec.data];
      Q.pt.forEach(function (c, j) {
        var l = L.circleMarker(c, {radius: 5, fill: true, fillOpacity: 1, color: '#ffffff', weight: 1, fillColor: spec.color});
        l._lu = j; group.addLayer(l);
      });
      group.bindPopup(function (l) { return '<div class="lu-pop"><div class="lu-layer" style="border-color:' + spec.color + '"><b>' + esc(spec.title) + '</b>' + fieldsTable(spec.labels, Q.f, l._lu) + '</div></div>'; }, popupOptions(map));
      group.bindTooltip(function (l) { return esc(spec.title) + (Q.f.length ? ': ' + esc(Q.f[0][l._lu]) : ''); });
      POINTS.push(group);
    } else if (spec.kind === 'borders') {
      var B = d.layers[spec.data];
      if (!map.getPane('lu-borders')) {
        var pane = map.createPane('lu-borders');
        pane.style.zIndex = 450; pane.style.pointerEvents = 'none';
      }
      var all = [];
      B.g.forEach(function (g) { lines(g).forEach(function (l) { all.push(l); }); });
      group.addLayer(L.polyline(all, {color: '#333333', weight: 2, interactive: false, pane: 'lu-borders',
                                      renderer: L.canvas({pane: 'lu-borders'})}));
    }
  }

  var Lazy = L.FeatureGroup.extend({
    initialize: function (spec) {
      L.FeatureGroup.prototype.initialize.call(this, []);
      this.spec = spec;
      this._built = false;
    },
    onAdd: function (map) {
      if (!this._built) { this._built = true; build(this, this.spec, map); }
      L.FeatureGroup.prototype.onAdd.call(this, map);
    }
  });
  LU.layer = function (spec) { return new Lazy(spec); };

  // --- controls ----------------------------------------------------------------------------------------------
  function fold(el, head, folded) {
    function set(f) { el.classList.toggle('lu-folded', f); head.setAttribute('aria-expanded', String(!f)); }
    head.setAttribute('role', 'button'); head.tabIndex = 0;
    L.DomEvent.on(head, 'click', function (e) { L.DomEvent.stop(e); set(!el.classList.contains('lu-folded')); });
    L.DomEvent.on(head, 'keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { L.DomEvent.stop(e); set(!el.classList.contains('lu-folded')); } });
    set(folded);
  }
  function card(id, position, block, folded) {
    var C = L.Control.extend({
      options: {position: position},
      onAdd: function () {
        var el = L.DomUtil.create('div', 'leaflet-control lu-card');
        el.id = id;
        var head = L.DomUtil.create('div', 'lu-card-head', el);
        head.textContent = block.title;
        var body = L.DomUtil.create('div', 'lu-card-body', el);
        body.innerHTML = block.html;
        L.DomEvent.disableClickPropagation(el);
        L.DomEvent.disableScrollPropagation(el);
        fold(el, head, folded);
        return el;
      }
    });
    return new C();
  }

  // Padding that keeps the region's bounds clear of every control: each control is cleared on
  // one side (beside it or above/below it), whichever leaves the region the most room.
  function clearPadding(map, bounds) {
    var box = map.getContainer().getBoundingClientRect(), W = box.width, H = box.height, m = 6;
    var rects = [].slice.call(map.getContainer().querySelectorAll('.leaflet-control')).map(function (el) {
      var r = el.getBoundingClientRect();
      return {l: r.left - box.left, t: r.top - box.top, r: r.right - box.left, b: r.bottom - box.top, w: r.width, h: r.height};
    }).filter(function (r) { return r.w > 0 && r.h > 0; });
    var sw = map.project(bounds.getSouthWest(), 0), ne = map.project(bounds.getNorthEast(), 0);
    var rw = Math.max(ne.x - sw.x, 1e-9), rh = Math.max(sw.y - ne.y, 1e-9);
    var best = null;
    for (var mask = 0; mask < (1 << rects.length); mask++) {
      var p = {l: m, t: m, r: m, b: m};
      rects.forEach(function (c, j) {
        var left = c.l + c.w / 2 < W / 2, top = c.t + c.h / 2 < H / 2;
        if (mask & (1 << j)) {  // cleared beside it
          if (left) { p.l = Math.max(p.l, c.r + m); } else { p.r = Math.max(p.r, W - c.l + m); }
        } else if (top) { p.t = Math.max(p.t, c.b + m); } else { p.b = Math.max(p.b, H - c.t + m); }
      });
      var s = Math.min((W - p.l - p.r) / rw, (H - p.t - p.b) / rh);
      if (best === null || s > best.s) { best = {s: s, p: p}; }
    }
    return best ? best.p : {l: m, t: m, r: m, b: m};
  }

  LU.regionBounds = function () { var b = data().bounds; return L.latLngBounds(b[0], b[1]); };

  LU.fit = function (map) {
    var bounds = LU.regionBounds(), p = clearPadding(map, bounds);
    map.fitBounds(bounds, {paddingTopLeft: [p.l, p.t], paddingBottomRight: [p.r, p.b], animate: false});
  };

  // Where the region and the controls are, in pixels of the map (for checks and tests).
  LU.layout = function (map) {
    map = map || LU.map;
    var box = map.getContainer().getBoundingClientRect(), b = LU.regionBounds();
    var nw = map.latLngToContainerPoint(b.getNorthWest()), se = map.latLngToContainerPoint(b.getSouthEast());
    var controls = [].slice.call(map.getContainer().querySelectorAll('.leaflet-control')).map(function (el) {
      var r = el.getBoundingClientRect();
      return {name: el.id || el.className, x0: r.left - box.left, y0: r.top - box.top, x1: r.right - box.left, y1: r.bottom - box.top};
    }).filter(function (c) { return c.x1 > c.x0 && c.y1 > c.y0; });
    return {width: box.width, height: box.height, region: {x0: nw.x, y0: nw.y, x1: se.x, y1: se.y}, controls: controls};
  };

  LU.setup = function (map, layers) {
    var d = data();
    LU.map = map;
    var small = window.innerWidth < 1600 || window.innerHeight < 900;
    // the layer list folds like the panel and the legend
    var lc = layers.getContainer();
    lc.classList.add('lu-card');
    lc.id = 'landuse-layers';
    var head = L.DomUtil.create('div', 'lu-card-head');
    head.textContent = 'Layers';
    lc.insertBefore(head, lc.firstChild);
    fold(lc, head, small);
    card('landuse-panel', 'bottomleft', d.panel, small).addTo(map);
    card('landuse-legend', 'bottomright', d.legend, small).addTo(map);
    var own = (layers._layers || []).map(function (e) { return e.layer; }).filter(function (l) { return l.spec; });
    var scores = own.filter(function (l) { return l.spec.kind === 'score'; });
    map.on('overlayadd', function (e) {
      if (e.layer.spec && e.layer.spec.kind === 'score') {
        // one score layer at a time (they cover the same parcels); after the control has handled the click,
        // which would add a layer removed during it again
        setTimeout(function () {
          scores.forEach(function (l) { if (l !== e.layer && map.hasLayer(l)) { map.removeLayer(l); } });
        }, 0);
      }
      POINTS.forEach(function (g) { if (map.hasLayer(g)) { g.bringToFront(); } });
    });
    // details opened in a popup: lay it out again (it scrolls inside, see .lu-popup in the style)
    map.on('popupopen', function (e) {
      var el = e.popup.getElement();
      if (el && !el._luToggle) { el._luToggle = true; el.addEventListener('toggle', function () {
        var p = e.popup;  // layout, place and pan again without rendering the content anew (that would fold it)
        if (p._updateLayout) { p._updateLayout(); p._updatePosition(); if (p._adjustPan) { p._adjustPan(); } }
      }, true); }
    });
    LU.fit(map);
    own.forEach(function (l) { if (l.spec.show) { l.addTo(map); } });
    POINTS.forEach(function (g) { if (map.hasLayer(g)) { g.bringToFront(); } });
    requestAnimationFrame(function () { requestAnimationFrame(function () { LU.ready = performance.now(); }); });
  };
})();

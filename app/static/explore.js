// The Explore view: an OpenSeadragon map of a collage, re-rooted as you dive.
//
// The server (app/explore_server.py) serves a finite tile pyramid around a "root"; when the
// view gets deep into it (or far from its centre, or back out of it) we ask the server for
// a new root there, lay the new pyramid over the old one at the same place, and once its
// tiles are in, swap the coordinates in one frame. Browser floats never address more than
// 2^20 of zoom, so the map goes down to 1e15x.
(function () {
  "use strict";
  // Re-root often: each root's tone comes from a view around its centre, so the root
  // follows the screen (every 2^3 of zoom, or two screens of panning).
  const REROOT_DEEPER = 2 ** 5; // relative zoom in the pyramid that triggers a re-root
  const REROOT_SHALLOWER = 2; // zooming back out of a deep root
  const REROOT_FAR = 2; // panned this many screen widths from the root's centre
  const SWAP_TIMEOUT_MS = 2500; // swap even if some new tiles are still missing

  function formatZoom(z) {
    if (!(z > 0)) return "×1";
    if (z < 1000) return "×" + (z < 10 ? z.toFixed(2) : z.toFixed(0));
    const e = Math.floor(Math.log10(z));
    const m = z / 10 ** e;
    return "×" + m.toFixed(1) + "·10^" + e;
  }

  class ExploreMap {
    constructor(element) {
      this.element = element;
      this.viewer = null;
      this.config = null;
      this.root = null;
      this.rerooting = false;
      this.tilesLoaded = 0;
      this.viewTimer = null;
    }

    // State for tests and the console, on the map's root element (data-tiles, data-zoom, ...).
    mark(key, value) {
      const root = this.element.querySelector(".ce-root");
      if (root) root.dataset[key] = String(value);
    }

    parts() {
      const q = (s) => this.element.querySelector(s);
      return { box: q(".ce-viewer"), depth: q(".ce-depth"), empty: q(".ce-empty"), hud: q(".ce-hud") };
    }

    load(value) {
      let config = null;
      try {
        config = value ? JSON.parse(value) : null;
      } catch (e) {
        config = null;
      }
      const p = this.parts();
      if (!config || !config.token) {
        if (p.empty) p.empty.style.display = "";
        return;
      }
      if (p.empty) p.empty.style.display = "none";
      this.config = config;
      this.ensureViewer();
      this.open(config.root, config.view);
    }

    ensureViewer() {
      const p = this.parts();
      if (this.viewer && this.viewer.element && document.body.contains(this.viewer.element) && this.viewer.element.parentNode === p.box) {
        return;
      }
      if (this.viewer) {
        try { this.viewer.destroy(); } catch (e) { /* already gone with its element */ }
      }
      const OSD = window.OpenSeadragon;
      this.viewer = OSD({
        element: p.box,
        prefixUrl: "explore/static/",
        showNavigationControl: false,
        drawer: "canvas",
        zoomPerScroll: 2.5,
        zoomPerClick: 2,
        animationTime: 0.6,
        blendTime: 0.15,
        immediateRender: false,
        visibilityRatio: 0.25,
        constrainDuringPan: false,
        minZoomImageRatio: 0.5,
        maxZoomPixelRatio: 2,
        imageLoaderLimit: 6,
        maxImageCacheCount: 600,
        gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true, flickEnabled: true },
        gestureSettingsTouch: { pinchToZoom: true, dblClickToZoom: true },
        crossOriginPolicy: false,
      });
      const v = this.viewer;
      v.addHandler("tile-loaded", () => {
        this.tilesLoaded += 1;
        this.mark("tiles", this.tilesLoaded);
      });
      v.addHandler("update-viewport", () => this.readout());
      // data-ready: every tile of the current view is in (tests wait on it).
      clearInterval(this.readyTimer);
      this.readyTimer = setInterval(() => {
        const n = v.world.getItemCount();
        const ready = n === 1 && !this.rerooting && v.world.getItemAt(0).getFullyLoaded() &&
          Math.abs(v.viewport.getZoom(false) / v.viewport.getZoom(true) - 1) < 1e-9;
        this.mark("ready", ready ? 1 : 0);
      }, 200);
      v.addHandler("animation-finish", () => this.settled());
      p.hud.querySelector(".ce-in").onclick = () => { v.viewport.zoomBy(2); v.viewport.applyConstraints(); };
      p.hud.querySelector(".ce-out").onclick = () => { v.viewport.zoomBy(0.5); v.viewport.applyConstraints(); };
      p.hud.querySelector(".ce-home").onclick = () => this.open(this.config.home, null, true);
    }

    tileSource(root) {
      const c = this.config;
      const base = Math.round(Math.log2(c.tile));
      const side = c.tile * 2 ** c.levels;
      return {
        width: side,
        height: side,
        tileSize: c.tile,
        tileOverlap: 0,
        minLevel: base,
        maxLevel: base + c.levels,
        getTileUrl: (level, x, y) => `explore/tile/${c.token}/${c.hash}/${root.id}/${level - base}/${x}/${y}.png`,
      };
    }

    limits(root) {
      const vp = this.viewer.viewport;
      vp.maxZoomLevel = root.max_rel;
      vp.minZoomLevel = root.zoom > this.config.root0zoom * 1.0001 ? 0.25 : null;
    }

    open(root, view, fromHome) {
      const v = this.viewer;
      this.config.root0zoom = this.config.home.zoom;
      if (fromHome) {
        root = this.config.home;
        view = null;
      }
      this.root = root;
      this.rerooting = false;
      v.addOnceHandler("open", () => {
        this.limits(root);
        if (view) {
          v.viewport.zoomTo(view.rel, null, true);
          v.viewport.panTo(new window.OpenSeadragon.Point(view.u, view.v), true);
        } else {
          v.viewport.goHome(true);
        }
        this.readout();
        this.postView();
      });
      v.open(this.tileSource(root));
    }

    zoomNow() {
      if (!this.viewer || !this.root) return 1;
      return this.root.zoom * this.viewer.viewport.getZoom(true);
    }

    readout() {
      const d = this.parts().depth;
      if (!d || !this.root) return;
      const z = this.zoomNow();
      d.textContent = formatZoom(z);
      this.mark("zoom", z);
    }

    settled() {
      this.readout();
      if (!this.root || this.rerooting) return;
      const vp = this.viewer.viewport;
      const rel = vp.getZoom(true);
      const c = vp.getCenter(true);
      const deep = this.root.zoom > this.config.root0zoom * 1.0001;
      const far = (deep || rel >= 8) && Math.max(Math.abs(c.x - 0.5), Math.abs(c.y - 0.5)) * rel > REROOT_FAR;
      if (rel > REROOT_DEEPER || (deep && rel < REROOT_SHALLOWER) || far) {
        this.reroot();
      } else {
        this.postView();
      }
    }

    async api(path, body) {
      const res = await fetch(`explore/api/${this.config.token}/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      return res.json();
    }

    where() {
      const vp = this.viewer.viewport;
      const c = vp.getCenter(true);
      const box = this.parts().box;
      return { root: this.root.id, u: c.x, v: c.y, rel: vp.getZoom(true), w: box.clientWidth || 1024, h: box.clientHeight || 640 };
    }

    postView() {
      clearTimeout(this.viewTimer);
      this.viewTimer = setTimeout(() => {
        if (!this.root) return;
        this.api("view", this.where()).catch(() => {});
      }, 50);
    }

    async reroot() {
      this.rerooting = true;
      const v = this.viewer;
      const old = v.world.getItemAt(v.world.getItemCount() - 1);
      let data;
      try {
        data = await this.api("reroot", this.where());
      } catch (e) {
        this.rerooting = false;
        return;
      }
      if (data.root.id === this.root.id) {
        this.rerooting = false;
        this.postView();
        return;
      }
      const [bu, bv, bw] = data.box;
      v.addTiledImage({
        tileSource: this.tileSource(data.root),
        x: bu,
        y: bv,
        width: bw,
        success: (ev) => {
          const item = ev.item;
          let done = false;
          const swap = () => {
            if (done) return;
            done = true;
            const OSD = window.OpenSeadragon;
            const vp = v.viewport;
            const b = vp.getBounds(true);
            const nb = new OSD.Rect((b.x - bu) / bw, (b.y - bv) / bw, b.width / bw, b.height / bw);
            for (let i = v.world.getItemCount() - 1; i >= 0; i--) {
              const it = v.world.getItemAt(i);
              if (it !== item) v.world.removeItem(it);
            }
            item.setPosition(new OSD.Point(0, 0), true);
            item.setWidth(1, true);
            this.root = data.root;
            this.limits(data.root);
            vp.fitBounds(nb, true);
            this.rerooting = false;
            this.reroots = (this.reroots || 0) + 1;
            this.mark("reroots", this.reroots);
            this.readout();
            this.postView();
          };
          item.whenFullyLoaded(swap);
          setTimeout(swap, SWAP_TIMEOUT_MS);
        },
        error: () => { this.rerooting = false; },
      });
      void old;
    }
  }

  window.CollageExplore = {
    mount(element, props, watch) {
      const map = element.__collageMap || (element.__collageMap = new ExploreMap(element));
      window.collageExploreMap = map; // for tests and the console
      const apply = () => map.load(props.value);
      apply();
      if (watch) watch("value", apply);
    },
  };
})();

// Progressive enhancement for the search page: everything works without this file.
(function () {
  "use strict";

  // "Use my location": fills the hidden lat/lon fields from the browser and searches.
  var locate = document.getElementById("use-location");
  if (locate && "geolocation" in navigator) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      locate.textContent = "Finding your location…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("lat").value = pos.coords.latitude.toFixed(4);
        document.getElementById("lon").value = pos.coords.longitude.toFixed(4);
        document.getElementById("place").value = "";
        locate.form.submit();
      }, function () {
        locate.textContent = "Location unavailable: type your ZIP code or city";
      }, { timeout: 10000, maximumAge: 600000 });
    });
  }
  // A typed place wins over an earlier location.
  var place = document.getElementById("place");
  if (place) {
    place.addEventListener("input", function () {
      document.getElementById("lat").value = "";
      document.getElementById("lon").value = "";
    });
  }

  // Type-ahead: a filter box above a long select hides the options that do not match.
  function typeahead(filterId, selectId) {
    var filter = document.getElementById(filterId), select = document.getElementById(selectId);
    if (!filter || !select) { return; }
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean), firstMatch = null;
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var any = false;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
          var text = (group.label + " " + option.textContent + " " + option.value).toLowerCase();
          var show = words.every(function (w) { return text.indexOf(w) !== -1; });
          option.hidden = !show;
          if (show) { any = true; if (!firstMatch) { firstMatch = option; } }
        });
        group.hidden = !any;
      });
      if (firstMatch && words.length) { select.value = firstMatch.value; }
    });
  }
  typeahead("network-filter", "network");
  typeahead("specialty-filter", "specialty");

  // The map beside the list: Leaflet from our own static files; tiles from the configured server.
  var mapEl = document.getElementById("map");
  if (!mapEl) { return; }
  var points = JSON.parse(mapEl.getAttribute("data-points") || "[]");
  if (!window.L || !points.length) {
    mapEl.innerHTML = '<p class="map-fallback">The map is not available; every result is in the list.</p>';
    return;
  }
  var map = L.map(mapEl, { scrollWheelZoom: false, maxZoom: 18 });  // a clustering map needs its maxZoom
  var tiles = mapEl.getAttribute("data-tiles");
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 18, attribution: mapEl.getAttribute("data-attribution") || "" }).addTo(map);
  }
  // Listings at one point (a ZIP code's centre, or one building) are one numbered marker
  // (Leaflet.markercluster); a click zooms in, or fans them out where they share the point.
  var group = L.markerClusterGroup ? L.markerClusterGroup({
    maxClusterRadius: 30, showCoverageOnHover: false,
    iconCreateFunction: function (cluster) {
      var count = cluster.getChildCount(), html = document.createElement("div"), label = document.createElement("span");
      label.textContent = String(count);
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " places here";
      label.appendChild(hidden);
      html.appendChild(label);
      return L.divIcon({ html: html, className: "marker-cluster marker-cluster-" + (count < 10 ? "small" : count < 100 ? "medium" : "large"),
                         iconSize: L.point(40, 40) });
    }
  }) : L.featureGroup();
  var bounds = [];
  points.forEach(function (p) {
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = p.name;
    group.addLayer(L.marker([p.lat, p.lon], { title: p.name, alt: p.name }).bindPopup(link));
    bounds.push([p.lat, p.lon]);
  });
  var center = mapEl.getAttribute("data-center");
  if (center) { bounds.push(JSON.parse(center)); }
  map.fitBounds(bounds, { padding: [24, 24], maxZoom: 13 });
  group.addTo(map);
})();

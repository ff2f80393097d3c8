// Tilegate demo map: reads its settings from the JSON block the page carries (no inline script).
(function () {
  'use strict';
  var configElement = document.getElementById('tilegate-map-config');
  var target = document.getElementById('map');
  if (!configElement || !target || typeof ol === 'undefined') {
    return;
  }
  var conf = JSON.parse(configElement.textContent);

  var projection;
  if (conf.projection.builtin) {
    projection = ol.proj.get(conf.projection.code);
  } else {
    // Tiles in any projection display without proj4: OpenLayers only needs extent and units.
    projection = new ol.proj.Projection({
      code: conf.projection.code,
      units: conf.projection.units,
      extent: conf.projection.extent
    });
  }

  var tileGrid = new ol.tilegrid.TileGrid({
    origin: conf.tileGrid.origin,
    resolutions: conf.tileGrid.resolutions,
    tileSize: conf.tileGrid.tileSize,
    extent: conf.tileGrid.extent
  });

  function fill(template, key, value) {
    return template.split('{' + key + '}').join(String(value));
  }

  var source = new ol.source.TileImage({
    projection: projection,
    tileGrid: tileGrid,
    tileUrlFunction: function (tileCoord) {
      var z = tileCoord[0];
      var x = tileCoord[1];
      // OpenLayers counts rows downwards from the grid origin: with the origin at the
      // bottom left, the first row above it is -1, which is row 0 counted from the south.
      var row = conf.rowsFromTop ? tileCoord[2] : -tileCoord[2] - 1;
      return fill(fill(fill(conf.url, 'z', conf.levels[z]), 'x', x), 'y', row);
    }
  });

  var loaded = 0;
  var failed = 0;
  source.on('tileloadend', function () {
    loaded += 1;
    target.setAttribute('data-tiles-loaded', String(loaded));
  });
  source.on('tileloaderror', function () {
    failed += 1;
    target.setAttribute('data-tiles-failed', String(failed));
  });

  var view = new ol.View({
    projection: projection,
    resolutions: conf.tileGrid.resolutions,
    constrainResolution: true,
    // OpenLayers otherwise keeps the view inside a world projection, zooming in past the
    // level that shows the whole layer.
    showFullExtent: true
  });
  var map = new ol.Map({
    target: target,
    layers: [new ol.layer.Tile({source: source})],
    view: view,
    controls: ol.control.defaults.defaults().extend([
      new ol.control.ScaleLine(),
      new ol.control.MousePosition({
        coordinateFormat: ol.coordinate.createStringXY(conf.projection.builtin && conf.projection.code === 'EPSG:3857' ? 0 : 4),
        projection: projection
      })
    ])
  });
  view.fit(conf.extent, {size: map.getSize()});
}());

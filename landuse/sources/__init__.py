"""Where layers come from: OpenStreetMap (osmnx online or a local .osm file), OpenMapTiles
GeoPackages, official GIS files mapped by a small manifest, and rasters."""

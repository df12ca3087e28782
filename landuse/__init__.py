"""landuse: geospatial land-use potential analyser.

Parcels scored for agroforestry / short-rotation coppice, open-space PV and wind, with the
carbon balance held against the urban emission load.
"""

__version__ = "0.1.0"

"""Broadcasts (协查通报): a notice from the centre or a department to the grid workers of chosen
areas, who reads it, and the sightings that answer it."""

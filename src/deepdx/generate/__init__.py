"""Generation: new voices from the trained generators (sample), written as banks with a
manifest and previews (banks).  The audio check and repair pass is deepdx.audio.repair."""

"""autoenchorder: predict a song's popularity from its audio alone.

Re-implements HitMusicNet (Martin-Gutierrez et al., 2020) and Autoen-chorder (Ramirez
Echavarria & Varma, 2023), and goes past them. See ``docs/`` and the README.
"""

__version__ = "0.1.0"

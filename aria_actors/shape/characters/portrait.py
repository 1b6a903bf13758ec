"""A small SVG portrait drawn from a character's traits and attributes.

Guarantees and caveats
----------------------
- Deterministic: the same character gives the same bytes (colours come from a hash of the name and
  traits, never from a random generator), so portraits can be stored content-addressed.
- Output is a standalone, well-formed SVG 1.1 document; every text is XML-escaped.
- A drawing, not a likeness: the mouth follows the balance of positive and negative traits, the
  eyes narrow for hostile traits, each trait adds a coloured badge and its name.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from aria_actors.shape.characters.templates import Character

_POSITIVE = {"kind", "brave", "wise", "cheerful", "loyal", "honest", "generous", "gentle", "pacifist",
             "curious", "patient", "calm", "friendly", "hopeful", "humble"}
_NEGATIVE = {"bloodthirsty", "cruel", "greedy", "cowardly", "grumpy", "deceitful", "arrogant",
             "vengeful", "lazy", "reckless", "jealous", "bitter"}


def _hue(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=2).digest(), "big") % 360


def portrait_svg(character: Character, size: int = 160) -> str:
    """The portrait as an SVG document string, ``size`` pixels square."""
    traits = [t.lower() for t in character.traits]
    mood = sum(t in _POSITIVE for t in traits) - sum(t in _NEGATIVE for t in traits)
    hostile = any(t in _NEGATIVE for t in traits)
    seed = character.name + "|" + ",".join(traits)
    skin = _hue(seed + "skin")
    bg = _hue(seed + "bg")
    c = size / 2
    r = size * 0.3
    eye_dy = r * 0.25
    eye_ry = r * (0.06 if hostile else 0.12)
    # A quadratic mouth: the control point moves down for a smile, up for a frown.
    curve = max(-1, min(1, mood / 2)) * r * 0.35
    mouth_y = c + r * 0.45
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img">',
        f"<title>{escape(character.name or character.template)}</title>",
        f'<rect width="{size}" height="{size}" fill="hsl({bg},40%,88%)"/>',
        f'<circle cx="{c:.1f}" cy="{c:.1f}" r="{r:.1f}" fill="hsl({skin},45%,70%)" '
        f'stroke="hsl({skin},45%,35%)" stroke-width="2"/>',
    ]
    for dx in (-r * 0.35, r * 0.35):
        parts.append(f'<ellipse cx="{c + dx:.1f}" cy="{c - eye_dy:.1f}" rx="{r * 0.1:.1f}" '
                     f'ry="{eye_ry:.1f}" fill="#222"/>')
    parts.append(f'<path d="M {c - r * 0.4:.1f} {mouth_y:.1f} Q {c:.1f} {mouth_y + curve:.1f} '
                 f'{c + r * 0.4:.1f} {mouth_y:.1f}" fill="none" stroke="#222" stroke-width="3" '
                 f'stroke-linecap="round"/>')
    for i, trait in enumerate(traits[:8]):
        x = 10 + (i % 4) * (size - 20) / 4
        y = size - 22 if i < 4 else 12
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{(size - 24) / 4:.1f}" height="12" rx="3" '
                     f'fill="hsl({_hue(trait)},60%,55%)"/>')
        parts.append(f'<text x="{x + 2:.1f}" y="{y + 9:.1f}" font-size="8" '
                     f'font-family="sans-serif">{escape(trait[:10])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

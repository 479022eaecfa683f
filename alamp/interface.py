"""The controller's interface as the description states it: how many observations and actions, and which.

A user who wants a policy usually says what the controller sees and what it can do ("It has two actions, in this
order: push the cart to the left, or push it to the right"; "the rule only gets to see one number"). The task set
requires such a paragraph (the policy is graded against it), and the embedded 1.5B model often gets it wrong in
the SAR agent's output: one action where the text lists three, eight moves where it lists four. A policy trained on
the wrong interface cannot pass, so the program checks the SAR output against what the text states
(``check_sar``) and rebuilds an action list the text enumerates (``align_actions``).

The reading is deliberately narrow: a list counts only when it follows "in (this|that) order" or indices of actions
("indexed 0, 1, 2, are:", "(indices 0 to 4) are") in a sentence about seeing or doing, or a number word names the
count ("four numbers", "one of two actions"); indices also give the count. When the text says
nothing in these forms, nothing is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alamp.schema import SARAction, SARSpec
from alamp.schema._names import to_identifier

__all__ = ["StatedInterface", "align_actions", "align_observations", "align_sar", "check_sar", "stated_interface"]

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12,
}  # fmt: skip
_COUNT = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_OBSERVE = (
    r"observes?|observations?|sees?|knows?|reads?|monitors?|inputs?|sensors?|watch(?:es)?|measurements?|readings?"
)
_ACT = r"actions?|do|choices|choose|chooses|options?|decisions?|outputs?|moves?|picks?|settings?|commands?"
_ORDER = re.compile(r"\(?\bin (?:this |that )?order\b\)?", re.IGNORECASE)
_OBSERVE_WORD = re.compile(rf"\b(?:{_OBSERVE})\b", re.IGNORECASE)
_ACT_WORD = re.compile(rf"\b(?:{_ACT})\b", re.IGNORECASE)
_OBSERVE_COUNT = re.compile(
    rf"\b(?:{_OBSERVE}|see)\b[^.:;]{{0,25}}?\b{_COUNT}\s+(?:numbers?|values?|shares|sensors|quantities|signals)\b"
    rf"|\b{_COUNT}\s+(?:numbers?|values?)\b[^.]{{0,20}}\b(?:observ|see)",
    re.IGNORECASE,
)
_ACT_COUNT = re.compile(rf"\b{_COUNT}\s+(?:(?:discrete|possible)\s+)?(?:actions|moves|options|choices|decisions)\b",
                        re.IGNORECASE)  # fmt: skip
# "Its outputs, indexed 0, 1, 2, are: ...", "Its outputs (indices 0 to 4) are ...": the indices give the count.
_INDEXED = re.compile(
    r"\(?\b(?:indexed|indices|numbered)\s+(\d+(?:\s*(?:,|and|or|to|through|\.\.|-|–)\s*\d+)+)\)?", re.IGNORECASE
)
_SPLIT = re.compile(r",\s*(?:and|or|then)\s+|,\s*|\s+(?:and|or|then)\s+")


@dataclass
class StatedInterface:
    """What the description states about the controller's interface (None / empty where it says nothing)."""

    n_observations: int | None = None
    observations: list[str] = field(default_factory=list)
    n_actions: int | None = None
    actions: list[str] = field(default_factory=list)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _split_items(text: str) -> list[str]:
    """Top-level items of an enumeration (commas inside parentheses do not split)."""
    depth, masked = 0, []
    for char in text:
        depth += char == "("
        depth -= char == ")" and depth > 0
        masked.append({",": "\0", " ": "\1"}.get(char, char) if depth else char)
    items = [item.replace("\0", ",").replace("\1", " ").strip(" .;:") for item in _SPLIT.split("".join(masked))]
    return [item for item in items if item]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s.strip()]


def _kind(before: str) -> str | None:
    """Whether the words before an "in order" phrase speak of observing or acting (the nearest keyword wins)."""
    last_obs = max((m.end() for m in _OBSERVE_WORD.finditer(before)), default=-1)
    last_act = max((m.end() for m in _ACT_WORD.finditer(before)), default=-1)
    if last_obs < 0 and last_act < 0:
        return None
    return "observations" if last_obs > last_act else "actions"


def _indexed_count(indices: str) -> int | None:
    """How many items "0, 1, 2" or "0 to 4" index (None for indices that are not a run from one number on)."""
    numbers = [int(n) for n in re.findall(r"\d+", indices)]
    if len(numbers) == 2 and re.search(r"to|through|\.\.|-|–", indices):
        return numbers[1] - numbers[0] + 1 if numbers[1] > numbers[0] else None
    return len(numbers) if numbers == list(range(numbers[0], numbers[0] + len(numbers))) else None


def _read_indexed(sentence: str, stated: StatedInterface) -> None:
    """The count (and the list after "are:" / "are") of a sentence that indexes what the controller does.

    Only actions: indexed observations are more often one number ("it reads its cell, indexed 0 to 15").
    """
    for match in _INDEXED.finditer(sentence):
        if _kind(sentence[: match.start()]) != "actions" or (count := _indexed_count(match.group(1))) is None:
            continue
        if stated.n_actions is None:
            stated.n_actions = count
        rest = sentence[match.end() :].lstrip(" ,)")
        found = re.match(r"(?:are|is)?\s*:\s*|(?:are|is)\s+", rest)
        if found is None:
            continue
        items = _split_items(rest[found.end() :].rstrip("."))
        if items and not stated.actions:
            stated.actions = items


def stated_interface(text: str) -> StatedInterface:
    """Read the observation and action counts (and items) the description states.

    Args:
        text: The description.

    Returns:
        The stated interface; fields stay None / empty where the text does not state them in a recognised form.
    """
    stated = StatedInterface()
    for sentence in _sentences(text or ""):
        for match in _ORDER.finditer(sentence):
            before, after = sentence[: match.start()], sentence[match.end() :]
            kind = _kind(before)
            if kind is None:
                continue
            if ":" in after:
                listed = after.split(":", 1)[1]
            elif match.group(0).startswith("("):  # "It can move left, down, right or up (in that order)."
                keyword = list((_OBSERVE_WORD if kind == "observations" else _ACT_WORD).finditer(before))[-1]
                listed = before[keyword.end() :]
            else:
                continue
            items = _split_items(listed.rstrip("."))
            if len(items) >= 1 and not getattr(stated, kind):
                setattr(stated, kind, items)
        _read_indexed(sentence, stated)
        if stated.n_observations is None and (found := _OBSERVE_COUNT.search(sentence)):
            stated.n_observations = _count(found.group(1) or found.group(2))
        if stated.n_actions is None and (found := _ACT_COUNT.search(sentence)):
            stated.n_actions = _count(found.group(1))
    # A count the text names wins over a list that split differently; an unnamed count is the list's length.
    for kind, count_field in (("observations", "n_observations"), ("actions", "n_actions")):
        items, count = getattr(stated, kind), getattr(stated, count_field)
        if count is None and items:
            setattr(stated, count_field, len(items))
        elif count is not None and items and len(items) != count:
            setattr(stated, kind, [])
    return stated


def check_sar(sar: SARSpec, stated: StatedInterface) -> str:
    """The disagreement between a SAR output and the stated interface, in words an agent can act on ('' if none)."""
    problems = []
    if stated.n_observations is not None and len(sar.observations) != stated.n_observations:
        listing = f": {'; '.join(stated.observations)}" if stated.observations else ""
        problems.append(
            f"the description says the controller observes {stated.n_observations} quantities{listing}; "
            f"observations has {len(sar.observations)} ({', '.join(sar.observations)})"
        )
    if stated.n_actions is not None and len(sar.actions) != stated.n_actions:
        listing = f": {'; '.join(stated.actions)}" if stated.actions else ""
        problems.append(
            f"the description lists {stated.n_actions} actions{listing}; "
            f"actions has {len(sar.actions)} ({', '.join(a.name for a in sar.actions)})"
        )
    return "; ".join(problems)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+|\d+", text.lower().replace("_", " ")) if w not in {"the", "a", "to", "it"}}


def _action_name(item: str, taken: set[str]) -> str:
    words = [w for w in re.findall(r"[A-Za-z]+|\d+", item) if w.lower() not in {"the", "a", "an", "it", "to"}]
    base = to_identifier("_".join(words[:4]) or "action")
    name, suffix = base, 2
    while name in taken:
        name, suffix = f"{base}_{suffix}", suffix + 1
    return name


def align_actions(sar: SARSpec, stated: StatedInterface) -> tuple[SARSpec, str]:
    """Rebuild the action list from the actions the text enumerates, when the SAR output has another count.

    Each listed action keeps the effect of the SAR action whose name shares most words with it (each SAR action used
    at most once); a listed action no SAR action matches gets a name from its words and no effect (the updates can
    still read the built-in action index).

    Returns:
        The SAR spec (unchanged when the counts agree or the text lists no actions) and a note ('' if unchanged).
    """
    if not stated.actions or len(sar.actions) == len(stated.actions):
        return sar, ""
    unused = list(sar.actions)
    rebuilt: list[SARAction] = []
    for item in stated.actions:
        scored = [(len(_words(item) & _words(a.name)), a) for a in unused]
        best = max(scored, key=lambda pair: pair[0], default=(0, None))
        if best[1] is not None and best[0] > 0:
            unused.remove(best[1])
            rebuilt.append(best[1])
        else:
            rebuilt.append(SARAction(name=_action_name(item, {a.name for a in rebuilt} | {a.name for a in unused})))
    note = (
        f"the SAR agent gave {len(sar.actions)} actions ({', '.join(a.name for a in sar.actions)}) but the text lists "
        f"{len(stated.actions)}, in order: {'; '.join(stated.actions)}; the actions were rebuilt from that list "
        f"({', '.join(a.name for a in rebuilt)})"
    )
    return sar.model_copy(update={"actions": rebuilt}), note


def align_observations(sar: SARSpec, stated: StatedInterface) -> tuple[SARSpec, str]:
    """Cut an observation list longer than the count the text states.

    The small model lists what the text names, in the text's order, and then adds quantities of its own (a step
    counter, the demand just drawn). When the text lists the observations, the SAR observation sharing most words
    with each listed one is kept (each used once, in the text's order); otherwise the first ones are kept. A list
    shorter than stated is left as it is (nothing says what is missing).

    Returns:
        The SAR spec (unchanged unless it had too many observations) and a note ('' if unchanged).
    """
    count = stated.n_observations
    if count is None or len(sar.observations) <= count:
        return sar, ""
    kept: list[str] = []
    if stated.observations:
        unused = list(sar.observations)
        for item in stated.observations:
            score, best = max(((len(_words(item) & _words(o)), o) for o in unused), key=lambda pair: pair[0])
            if score == 0:
                kept = []
                break
            unused.remove(best)
            kept.append(best)
    if not kept:
        kept = list(sar.observations[:count])
    dropped = [o for o in sar.observations if o not in kept]
    note = (
        f"the SAR agent gave {len(sar.observations)} observations but the text states {count}: kept "
        f"{', '.join(kept)}, dropped {', '.join(dropped)}"
    )
    return sar.model_copy(update={"observations": kept}), note


def align_sar(sar: SARSpec, stated: StatedInterface) -> tuple[SARSpec, list[str]]:
    """``align_actions`` then ``align_observations``; the notes of what changed."""
    sar, rebuilt = align_actions(sar, stated)
    sar, cut = align_observations(sar, stated)
    return sar, [note for note in (rebuilt, cut) if note]

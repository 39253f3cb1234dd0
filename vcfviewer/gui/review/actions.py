"""The review workflow's actions (text, shortcut, menu, tip), added to the window's table so
Help ▸ Keyboard shortcuts lists them with the viewer's own."""

from __future__ import annotations

from vcfviewer.gui.actions import ActionSpec

REVIEW_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("analyse", "&Analyse / re-run model", "Review", ("A",),
               "Run the model on the image on screen, or on the whole CT volume (replaces the "
               "findings shown)",
               icon_text="Analyse"),
    ActionSpec("undo", "&Undo", "Review", ("Ctrl+Z",), "Undo the last correction",
               icon_text="Undo"),
    ActionSpec("redo", "&Redo", "Review", ("Ctrl+Shift+Z", "Ctrl+Y"),
               "Redo the last undone correction", icon_text="Redo"),
    ActionSpec("grade_0", "Grade &0: not fractured", "Review", ("0",),
               "Call the selected body normal (clears the fracture)"),
    ActionSpec("grade_1", "Grade &1: mild (20–25 %)", "Review", ("1",),
               "Set the selected body's fracture grade to 1"),
    ActionSpec("grade_2", "Grade &2: moderate (25–40 %)", "Review", ("2",),
               "Set the selected body's fracture grade to 2"),
    ActionSpec("grade_3", "Grade &3: severe (> 40 %)", "Review", ("3",),
               "Set the selected body's fracture grade to 3"),
    ActionSpec("cycle_type", "Fracture &type: wedge → biconcave → crush", "Review", ("T",),
               "Change the selected fracture's type"),
    ActionSpec("relabel", "Re&label level…", "Review", ("E",),
               "Give the selected body another level name"),
    ActionSpec("renumber_up", "Renumber column &up (L2 → L1)", "Review", ("Ctrl+Up",),
               "Every level one higher in the spine; the sacrum stays"),
    ActionSpec("renumber_down", "Renumber column &down (L1 → L2)", "Review", ("Ctrl+Down",),
               "Every level one lower in the spine; the sacrum stays"),
    ActionSpec("name_l6", "Transitional L&6: the body above the sacrum is L6", "Review",
               ("Ctrl+6",), "Six lumbar bodies: the body named L5 becomes L6 and every body "
               "above moves one level down (T12 becomes L1)"),
    ActionSpec("swap_facing", "Patient faces the other &way (swap anterior/posterior)", "Review",
               ("Shift+F",), "Every body's anterior and posterior landmarks trade places (Ha "
               "with Hp; a wedge becomes a crush): for a film whose facing the model got wrong"),
    ActionSpec("analyse_other_way", "Re-analyse with the patient facing the other wa&y", "Review",
               ("Shift+A",), "Run the model again with the film read the other way round: its "
               "bodies, grades and fracture probabilities as well as the landmarks (replaces the "
               "findings shown)"),
    ActionSpec("add_body", "Add &missed body…", "Review", ("B",),
               "Place the six landmarks of a body the model missed", icon_text="Add body"),
    ActionSpec("delete_body", "&Delete body", "Review", ("Del",),
               "Remove the selected body (a false detection)", icon_text="Delete"),
    ActionSpec("next_body", "&Next body", "Review", ("N",),
               "Select the body below (on a CT: and go to its plane)"),
    ActionSpec("previous_body", "&Previous body", "Review", ("Shift+N",),
               "Select the body above (on a CT: and go to its plane)"),
    ActionSpec("accept_all", "A&ccept all findings", "Review", ("Ctrl+Return",),
               "Sign off every finding as it stands (needs the reader's name)",
               icon_text="Accept all"),
    ActionSpec("toggle_masks", "Body &masks", "Review", ("M",), "Show or hide the body masks",
               checkable=True),
    ActionSpec("toggle_marks", "&Landmarks and heights", "Review", ("H",),
               "Show or hide the six landmarks and the Ha/Hm/Hp lines", checkable=True),
    ActionSpec("toggle_labels", "Level la&bels and badges", "Review", ("L",),
               "Show or hide the level labels and grade badges", checkable=True),
    ActionSpec("colour_by_grade", "&Colour by grade", "Review", ("C",),
               "Colour the bodies by decided grade instead of by level", checkable=True),
    ActionSpec("opacity_down", "Masks fainter", "Review", ("[",), "Lower the mask opacity"),
    ActionSpec("opacity_up", "Masks stronger", "Review", ("]",), "Raise the mask opacity"),
    ActionSpec("export", "&Export…", "File", ("Ctrl+E",),
               "Write JSON, CSV, DICOM SR and SEG, key image and training entry into the "
               "export folder", icon_text="Export"),
    ActionSpec("export_to", "Export &to folder…", "File", ("Ctrl+Shift+E",),
               "Choose another export folder, then export"),
    ActionSpec("recover", "Recover &unsaved review…", "File", (),
               "Reopen an image whose corrections were autosaved but never exported"),
    ActionSpec("preferences", "&Preferences…", "File", ("Ctrl+,",),
               "Auto-analyse, threshold, colours, reader name, export folder"),
    ActionSpec("toggle_findings", "&Findings table", "Window", ("Ctrl+Shift+F",),
               "Show or hide the findings table", checkable=True),
    ActionSpec("toggle_details", "Vertebra &details", "Window", ("Ctrl+Shift+D",),
               "Show or hide the detail panel", checkable=True),
)

REVIEW_MENU: tuple[str, ...] = (
    "analyse", "-", "undo", "redo", "-", "grade_0", "grade_1", "grade_2", "grade_3",
    "cycle_type", "-", "relabel", "renumber_up", "renumber_down", "name_l6", "swap_facing",
    "analyse_other_way", "-", "add_body", "delete_body", "next_body", "previous_body", "-",
    "accept_all", "-", "toggle_masks", "toggle_marks", "toggle_labels", "colour_by_grade", "opacity_down",
    "opacity_up",
)
FILE_ITEMS: tuple[str, ...] = ("export", "export_to", "recover", "preferences")
WINDOW_ITEMS: tuple[str, ...] = ("toggle_findings", "toggle_details")
TOOLBAR_ITEMS: tuple[str, ...] = ("analyse", "-", "undo", "redo", "-", "add_body", "delete_body",
                                  "accept_all", "-", "export")
# Enabled only while a review session exists.
SESSION_ACTIONS: tuple[str, ...] = (
    "grade_0", "grade_1", "grade_2", "grade_3", "cycle_type", "relabel", "renumber_up",
    "renumber_down", "name_l6", "swap_facing", "analyse_other_way", "add_body", "delete_body",
    "next_body", "previous_body", "accept_all", "export", "export_to",
)

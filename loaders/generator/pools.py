"""What the synthetic patients, clinicians and visits are drawn from: names, places, codes, fees.

Names mix spellings that stress matching across feeds the way real registries do: accents
(which X12 cannot carry and folds away), apostrophes and hyphens.
"""

from __future__ import annotations

from dataclasses import dataclass

# The name and place tables are data, kept dense: one value per line would make them
# hundreds of lines long.
# fmt: off
FAMILY_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
    "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster",
    "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan",
    "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno",
    "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar",
    "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez",
    "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman",
    "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter",
    "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Muñoz", "Hunt", "Hicks",
    "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar",
    "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson",
    "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn",
    "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Vázquez", "Hansen", "Peters", "Santos",
    "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson",
    "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins",
    "Hoffman", "Johnston", "Matthews", "Peña", "Richards", "Contreras", "Willis", "Carpenter",
    "Lawrence", "Sandoval", "Guerrero", "George", "Chapman", "Ríos", "Estrada", "Ortega",
    "Watkins", "Greene", "Núñez", "Wheeler", "Valdez", "Harper", "Burke", "Larson", "Santiago",
    "Maldonado", "Morrison", "Franklin", "Carlson", "Austin", "Dominguez", "Carr", "Lawson",
    "Jacobs", "O'Brien", "Lynch", "Singh", "Vega", "Bishop", "Montgomery", "Oliver", "Jensen",
    "Harvey", "Williamson", "Gilbert", "Dean", "Sims", "Espinoza", "Howell", "Li", "Wong",
    "Reid", "Hanson", "Le", "McCoy", "Garrett", "Burton", "Fuller", "Wang", "Weber", "Welch",
    "Rojas", "Lucas", "Marquez", "Fields", "Park", "Yang", "Little", "Banks", "Padilla", "Day",
    "Walsh", "Bowman", "Schultz", "Luna", "Fowler", "Mejia", "Davidson", "Acosta", "Brewer",
    "May", "Holland", "Juarez", "Newman", "Pearson", "Curtis", "Cortez", "Douglas", "Schneider",
    "Joseph", "Barrett", "Navarro", "Figueroa", "Keller", "Ávila", "Wade", "Molina", "Stanley",
    "Hopkins", "Campos", "Barnett", "Bates", "Chambers", "Caldwell", "Beck", "Lambert",
    "Miranda", "Byrd", "Craig", "Ayala", "Lowe", "Frazier", "Powers", "Neal", "Leonard",
    "Gregory", "Carrillo", "Sutton", "Fleming", "Rhodes", "Shelton", "Schwartz", "Norris",
    "Jennings", "Watts", "Duran", "Walters", "Cohen", "McDaniel", "Moran", "Parks", "Steele",
    "Vaughn", "Becker", "Holt", "DeLeon", "Barker", "Terry", "Hale", "Leon", "Hail", "Benson",
    "Haynes", "Horton", "Miles", "Lyons", "Pham", "Graves", "Bush", "Thornton", "Wolfe",
    "Warner", "Cabrera", "McKinney", "Mann", "Zimmerman", "Dawson", "Lara", "Fletcher", "Page",
    "McCarthy", "Love", "Robles", "Cervantes", "Solis", "Erickson", "Reeves", "Chang", "Klein",
    "Salinas", "Fuentes", "Baldwin", "Daniel", "Simon", "Velasquez", "Hardy", "Higgins",
    "Aguirre", "Lin", "Cummings", "Chandler", "Sharp", "Barber", "Bowen", "Ochoa", "Dennis",
    "Robbins", "Liu", "Ramsey", "Francis", "Griffith", "Paul", "Blair", "O'Connor", "Cardenas",
    "Pacheco", "Cross", "Calderon", "Quinn", "Moss", "Swanson", "Chan", "Rivas", "Khan",
    "Rodgers", "Serrano", "Fitzgerald", "Rosales", "Stevenson", "Christensen", "Manning",
    "Gill", "Curry", "McLaughlin", "Harmon", "McGee", "Gross", "Doyle", "Garner", "Newton",
    "Burgess", "Reese", "Walton", "Blake", "Trujillo", "Adkins", "Brady", "Goodman", "Roman",
    "Webster", "Goodwin", "Fischer", "Huang", "Potter", "Delacruz", "Montoya", "Todd", "Wu",
    "Hines", "Mullins", "Castaneda", "Malone", "Cannon", "Tate", "Mack", "Sherman", "Hubbard",
    "Hodges", "Zhang", "Guerra", "Wolf", "Valencia", "Saunders", "Franco", "Rowe", "Gallagher",
    "Farmer", "Hammond", "Hampton", "Townsend", "Ingram", "Wise", "Gallegos", "Clarke",
    "Barton", "Schroeder", "Maxwell", "Waters", "Logan", "Camacho", "Strickland", "Norman",
    "Person", "Colón", "Parsons", "Frank", "Harrington", "Glover", "Osborne", "Buchanan",
    "Casey", "Floyd", "Patton", "Ibarra", "Ball", "Tyler", "Suarez", "Bowers", "Orozco",
    "Salas", "Cobb", "Gibbs", "Andrade", "Bauer", "Conner", "Moody", "Escobar", "McGuire",
    "Lloyd", "Mueller", "Hartman", "French", "Kramer", "McBride", "Pope", "Lindsey", "Velazquez",
    "Norton", "McCormick", "Sparks", "Flynn", "Yates", "Hogan", "Marsh", "Macias", "Villanueva",
    "Zamora", "Pratt", "Stokes", "Owen", "Ballard", "Lang", "Brock", "Villarreal", "Charles",
    "Drake", "Barrera", "Cain", "Patrick", "Piñeiro", "Smith-Jones", "Nakamura", "Okafor",
    "Kowalski", "Nowak", "Ivanova", "Müller", "Björk", "Dubois", "Lefèvre",
)
FEMALE_GIVEN = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly",
    "Emily", "Donna", "Michelle", "Carol", "Amanda", "Dorothy", "Melissa", "Deborah",
    "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Kathleen", "Amy", "Angela",
    "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen", "Samantha", "Katherine",
    "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather", "Diane",
    "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren", "Christina",
    "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah", "Jacqueline", "Martha",
    "Gloria", "Teresa", "Ann", "Sara", "Madison", "Frances", "Kathryn", "Janice", "Jean",
    "Abigail", "Alice", "Judy", "Sophia", "Grace", "Denise", "Amber", "Doris", "Marilyn",
    "Danielle", "Beverly", "Isabella", "Theresa", "Diana", "Natalie", "Brittany", "Charlotte",
    "Marie", "Kayla", "Alexis", "Lori", "Zoë", "Chloé", "Renée", "Inés", "María José", "Siobhán",
    "Mei", "Aaliyah", "Priya", "Fatima", "Ngozi", "Yuki", "Anne-Marie",
)
MALE_GIVEN = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven",
    "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald",
    "Edward", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
    "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory",
    "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron",
    "Jose", "Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle", "Ethan", "Walter",
    "Noah", "Jeremy", "Christian", "Keith", "Roger", "Terry", "Gerald", "Harold", "Sean",
    "Austin", "Carl", "Arthur", "Lawrence", "Dylan", "Jesse", "Jordan", "Bryan", "Billy", "Joe",
    "Bruce", "Gabriel", "Logan", "Albert", "Willie", "Alan", "Juan", "Wayne", "Elijah", "Randy",
    "Roy", "Vincent", "Ralph", "Eugene", "Russell", "Bobby", "Mason", "Philip", "Louis", "José",
    "André", "Jean-Luc", "Björn", "Seán", "Wei", "Hiroshi", "Arjun", "Mohammed",
    "Chinedu", "Dmitri", "D'Andre",
)
STREETS = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Riverside Dr", "Washington Ave",
    "Lake St", "Hill Rd", "Park Ave", "Pine St", "Prairie Ave", "Harlem Ave", "Ogden Ave",
    "Burlington St", "Longcommon Rd", "Desplaines Ave", "1st Ave", "Forest Ave", "Scottswood Rd",
)
# (city, postal code) around Riverside, Illinois: Central time, which the data keeps
CITIES = (
    ("Riverside", "60546"), ("Berwyn", "60402"), ("Brookfield", "60513"),
    ("La Grange", "60525"), ("North Riverside", "60546"), ("Lyons", "60534"),
    ("Cicero", "60804"), ("Oak Park", "60302"), ("Forest Park", "60130"),
    ("Western Springs", "60558"), ("Hinsdale", "60521"), ("Westchester", "60154"),
)
# fmt: on
STATE = "IL"
CLINIC_TOWNS = tuple(city for city, _ in CITIES)


@dataclass(frozen=True, slots=True)
class Specialty:
    """A clinician's specialty: NUCC taxonomy code and display."""

    taxonomy: str
    display: str


HOSPITAL_SPECIALTIES = (
    Specialty("208M00000X", "Hospitalist"),
    Specialty("207P00000X", "Emergency Medicine"),
    Specialty("2085R0202X", "Diagnostic Radiology"),
    Specialty("207RC0000X", "Cardiovascular Disease"),
)
CLINIC_SPECIALTIES = (
    Specialty("207Q00000X", "Family Medicine"),
    Specialty("207R00000X", "Internal Medicine"),
    Specialty("208000000X", "Pediatrics"),
    Specialty("207X00000X", "Orthopaedic Surgery"),
    Specialty("207RE0101X", "Endocrinology, Diabetes & Metabolism"),
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a visit happened: the ICD-10-CM diagnosis and SNOMED CT visit type."""

    icd10: str  # with its dot, as FHIR writes it; X12 drops the dot
    display: str


REASONS_AMB = (
    Reason("Z00.00", "Encounter for general adult medical examination"),
    Reason("E11.9", "Type 2 diabetes mellitus without complications"),
    Reason("I10", "Essential (primary) hypertension"),
    Reason("J06.9", "Acute upper respiratory infection, unspecified"),
    Reason("M54.50", "Low back pain, unspecified"),
    Reason("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    Reason("F41.1", "Generalized anxiety disorder"),
    Reason("E78.5", "Hyperlipidemia, unspecified"),
    Reason("M25.561", "Pain in right knee"),
    Reason("R10.9", "Unspecified abdominal pain"),
)
REASONS_EMER = (
    Reason("R07.9", "Chest pain, unspecified"),
    Reason("S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter"),
    Reason("R51.9", "Headache, unspecified"),
    Reason("N39.0", "Urinary tract infection, site not specified"),
    Reason("R10.9", "Unspecified abdominal pain"),
    Reason("S52.501A", "Unspecified fracture of the lower end of right radius, initial"),
)
REASONS_IMP = (
    Reason("J18.9", "Pneumonia, unspecified organism"),
    Reason("I50.9", "Heart failure, unspecified"),
    Reason("J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation"),
    Reason("A41.9", "Sepsis, unspecified organism"),
    Reason("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction"),
    Reason("K35.80", "Unspecified acute appendicitis"),
)
SECONDARY = (
    Reason("I10", "Essential (primary) hypertension"),
    Reason("E11.9", "Type 2 diabetes mellitus without complications"),
    Reason("E78.5", "Hyperlipidemia, unspecified"),
    Reason("Z79.4", "Long term (current) use of insulin"),
    Reason("F17.210", "Nicotine dependence, cigarettes, uncomplicated"),
    Reason("E66.9", "Obesity, unspecified"),
)

# encounter class (v3 ActCode) -> SNOMED CT encounter type (code, display)
ENCOUNTER_TYPES = {
    "AMB": ("185349003", "Encounter for check up"),
    "EMER": ("50849002", "Emergency room admission"),
    "IMP": ("32485007", "Hospital admission"),
}
CLASS_DISPLAY = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}
PLACE_OF_SERVICE = {"AMB": "11", "EMER": "23", "IMP": "21"}
HL7_PATIENT_CLASS = {"AMB": "O", "EMER": "E", "IMP": "I"}


@dataclass(frozen=True, slots=True)
class Procedure:
    """A billable service: CPT code, display and the chargemaster price in cents."""

    cpt: str
    display: str
    cents: int


EVALUATION = {
    "AMB": (
        Procedure("99213", "Office visit, established patient, low complexity", 14_500),
        Procedure("99214", "Office visit, established patient, moderate complexity", 21_000),
        Procedure("99203", "Office visit, new patient, low complexity", 19_000),
        Procedure("99396", "Preventive visit, established patient, 40-64 years", 26_500),
    ),
    "EMER": (
        Procedure("99283", "Emergency department visit, moderate severity", 39_000),
        Procedure("99284", "Emergency department visit, high severity", 62_000),
        Procedure("99285", "Emergency department visit, highest severity", 95_000),
    ),
    "IMP": (
        Procedure("99222", "Initial hospital inpatient care, moderate", 31_000),
        Procedure("99223", "Initial hospital inpatient care, high", 45_500),
    ),
}
DISCHARGE = Procedure("99238", "Hospital discharge day management, 30 minutes or less", 17_500)
ANCILLARY = (
    Procedure("36415", "Collection of venous blood by venipuncture", 2_500),
    Procedure("80053", "Comprehensive metabolic panel", 9_800),
    Procedure("85025", "Complete blood count with automated differential", 6_200),
    Procedure("93000", "Electrocardiogram, routine, with interpretation and report", 11_000),
    Procedure("81003", "Urinalysis, automated, without microscopy", 3_400),
)


@dataclass(frozen=True, slots=True)
class Imaging:
    """An imaging procedure: what the order, the PACS and the claim each call it."""

    cpt: str
    display: str
    cents: int
    modality: str  # DICOM Modality of its series
    body_part: str  # DICOM BodyPartExamined
    series: tuple[str, ...]  # series descriptions: one or two series
    sop_class: str  # the storage SOP class of its images


CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
IMAGING = (
    Imaging("71046", "XR chest 2 views", 18_000, "DX", "CHEST", ("PA", "LAT"), DX_IMAGE),
    Imaging("73610", "XR ankle 3 views", 16_500, "DX", "ANKLE", ("AP MORTISE LAT",), DX_IMAGE),
    Imaging(
        "70450", "CT head without contrast", 98_000, "CT", "HEAD", ("SCOUT", "AXIAL 5MM"), CT_IMAGE
    ),
    Imaging(
        "74177",
        "CT abdomen and pelvis with contrast",
        210_000,
        "CT",
        "ABDOMEN",
        ("SCOUT", "PORTAL VENOUS 3MM"),
        CT_IMAGE,
    ),
    Imaging(
        "71275", "CT angiography chest", 185_000, "CT", "CHEST", ("SCOUT", "CTA 1MM"), CT_IMAGE
    ),
    Imaging(
        "70553",
        "MRI brain without and with contrast",
        265_000,
        "MR",
        "BRAIN",
        ("AX T2 FLAIR", "AX T1 POST"),
        MR_IMAGE,
    ),
    Imaging(
        "72148",
        "MRI lumbar spine without contrast",
        175_000,
        "MR",
        "LSPINE",
        ("SAG T2", "AX T2"),
        MR_IMAGE,
    ),
    Imaging("76700", "US abdomen complete", 52_000, "US", "ABDOMEN", ("ABDOMEN",), US_IMAGE),
    Imaging(
        "93306",
        "Echocardiography transthoracic complete",
        160_000,
        "US",
        "HEART",
        ("TTE",),
        US_IMAGE,
    ),
)

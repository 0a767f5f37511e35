"""French-market vocabularies used by the synthetic generator.

Names, cities (with postcodes, department and region), street names, e-mail domains and
product categories. Lists are hand-written and weighted roughly by real frequency; they are
small on purpose (realistic enough to create collisions, homonyms and near-duplicates).
"""

from __future__ import annotations

# fmt: off

# --------------------------------------------------------------------------- first names
FEMALE_FIRST: tuple[str, ...] = (
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Christine",
    "Sandrine", "Véronique", "Valérie", "Sophie", "Céline", "Stéphanie", "Julie", "Aurélie",
    "Émilie", "Camille", "Laura", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Pauline",
    "Élodie", "Mélanie", "Caroline", "Audrey", "Laetitia", "Lætitia", "Hélène", "Martine",
    "Monique", "Nicole", "Brigitte", "Danielle", "Jacqueline", "Patricia", "Anne", "Florence",
    "Agnès", "Béatrice", "Corinne", "Karine", "Virginie", "Delphine", "Marion", "Claire",
    "Justine", "Charlotte", "Océane", "Clémence", "Anaïs", "Mathilde", "Lucie", "Margaux",
    "Jade", "Louise", "Alice", "Zoé", "Lina", "Rose", "Ambre", "Juliette", "Élise", "Noémie",
    "Gaëlle", "Maëlle", "Solène", "Noëlle", "Joëlle", "Amandine", "Coralie", "Fanny",
    "Myriam", "Fatima", "Nadia", "Samira", "Yasmine", "Leïla", "Aïcha", "Geneviève",
    "Thérèse", "Josiane", "Odile", "Ghislaine", "Mireille", "Colette", "Éliane", "Lucienne",
)
FEMALE_COMPOUND: tuple[str, ...] = (
    "Marie-Claire", "Anne-Sophie", "Marie-Hélène", "Marie-Christine", "Anne-Laure",
    "Marie-Pierre", "Marie-Thérèse", "Anne-Marie", "Marie-France", "Marie-Laure",
    "Marie-Noëlle", "Marie-José", "Marie-Line", "Anne-Claire", "Marie-Ange", "Rose-Marie",
    "Marie-Odile", "Marie-Agnès", "Lou-Anne", "Marie-Louise",
)
MALE_FIRST: tuple[str, ...] = (
    "Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Christophe", "Patrick",
    "Daniel", "Frédéric", "Laurent", "Stéphane", "David", "Éric", "Olivier", "Thierry",
    "Julien", "Sébastien", "Christian", "Pascal", "Thomas", "Alexandre", "Antoine", "Jérôme",
    "François", "Vincent", "Guillaume", "Maxime", "Romain", "Mathieu", "Kévin", "Anthony",
    "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Raphaël", "Léo", "Adam",
    "Nathan", "Enzo", "Théo", "Clément", "Benoît", "Jérémy", "Cédric", "Grégory", "Yannick",
    "Bruno", "Didier", "Gérard", "Bernard", "Jacques", "André", "René", "Claude", "Serge",
    "Dominique", "Hervé", "Joël", "Gaël", "Loïc", "Noël", "Mickaël", "Raphaël", "Ludovic",
    "Damien", "Fabrice", "Franck", "Arnaud", "Benjamin", "Florian", "Quentin", "Valentin",
    "Mohamed", "Karim", "Mehdi", "Yacine", "Rachid", "Youssef", "Gilles", "Régis", "Rémi",
    "Aurélien", "Cyril", "Jérémie", "Baptiste", "Timothée",
)
MALE_COMPOUND: tuple[str, ...] = (
    "Jean-Pierre", "Jean-Luc", "Jean-François", "Jean-Marc", "Jean-Claude", "Jean-Michel",
    "Jean-Louis", "Jean-Philippe", "Jean-Paul", "Jean-Baptiste", "Pierre-Yves", "Jean-Jacques",
    "Jean-Christophe", "Pierre-Louis", "Jean-Charles", "Louis-Marie", "Paul-Henri",
    "Jean-Yves", "Jean-Noël", "Marc-Antoine",
)

# --------------------------------------------------------------------------- last names
LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
    "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard",
    "Barbier", "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux",
    "Colin", "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud",
    "Dumas", "Lacroix", "Olivier", "Philippe", "Bourgeois", "Pierre", "Benoît", "Rey",
    "Leclerc", "Payet", "Rolland", "Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean",
    "Dupuy", "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin",
    "Louis", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer", "Klein",
    "Jacquet", "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Charles",
    "Renault", "Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé",
    "Schneider", "Fernandez", "Collet", "Léger", "Bouvier", "Julien", "Prévost", "Millet",
    "Perrot", "Daniel", "Cousin", "Germain", "Breton", "Besson", "Langlois", "Rémy",
    "Pelletier", "Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun", "Marchal", "Weber",
    "Mallet", "Hamon", "Boulanger", "Jacob", "Monnier", "Michaud", "Rodriguez", "Guichard",
    "Gillet", "Étienne", "Grondin", "Poulain", "Tessier", "Chevallier", "Collin", "Chauvin",
    "Bouchet", "Gay", "Lemaître", "Bénard", "Maréchal", "Humbert", "Reynaud", "Antoine",
    "Hoarau", "Perret", "Barthélemy", "Cordier", "Pichon", "Lejeune", "Gilbert", "Lamy",
    "Delaunay", "Pasquier", "Carlier", "Laporte", "Nguyen", "Haddad", "Benali", "Diallo",
    "Traoré", "Rossi", "Ferreira", "Cohen", "Lévy", "Kaya", "Bouvet", "Texier", "Chéreau",
    "Hébert", "Lebreton", "Godard", "Baudry", "Thibault", "Lacombe", "Bourdon", "Rocher",
)
#: Names with particles or several words: the hard cases of French name matching.
PARTICLE_NAMES: tuple[str, ...] = (
    "Le Gall", "Le Roux", "Le Goff", "Le Guen", "Le Bihan", "Le Corre", "Le Floch",
    "Le Gac", "Le Berre", "de La Fontaine", "de La Tour", "de Villiers", "de Montaigne",
    "Du Bois", "Des Rosiers", "d'Almeida", "d'Arcy", "Da Silva", "Dos Santos", "De Oliveira",
    "de Saint-Just", "Le Meur", "de Lattre", "Van den Berghe", "Saint-Martin",
)

# --------------------------------------------------------------------------- places
#: (city, postcodes, department, region) with a rough population weight.
CITIES: tuple[tuple[str, tuple[str, ...], str, str, float], ...] = (
    ("Paris", tuple(f"750{i:02d}" for i in range(1, 21)), "75", "Île-de-France", 21.0),
    ("Marseille", tuple(f"130{i:02d}" for i in range(1, 17)), "13", "Provence-Alpes-Côte d'Azur", 8.7),
    ("Lyon", tuple(f"6900{i}" for i in range(1, 10)), "69", "Auvergne-Rhône-Alpes", 5.2),
    ("Toulouse", ("31000", "31100", "31200", "31300", "31400", "31500"), "31", "Occitanie", 4.9),
    ("Nice", ("06000", "06100", "06200", "06300"), "06", "Provence-Alpes-Côte d'Azur", 3.4),
    ("Nantes", ("44000", "44100", "44200", "44300"), "44", "Pays de la Loire", 3.2),
    ("Montpellier", ("34000", "34070", "34080", "34090"), "34", "Occitanie", 3.0),
    ("Strasbourg", ("67000", "67100", "67200"), "67", "Grand Est", 2.9),
    ("Bordeaux", ("33000", "33100", "33200", "33300", "33800"), "33", "Nouvelle-Aquitaine", 2.6),
    ("Lille", ("59000", "59160", "59260", "59800"), "59", "Hauts-de-France", 2.4),
    ("Rennes", ("35000", "35200", "35700"), "35", "Bretagne", 2.2),
    ("Reims", ("51100",), "51", "Grand Est", 1.8),
    ("Saint-Étienne", ("42000", "42100"), "42", "Auvergne-Rhône-Alpes", 1.7),
    ("Toulon", ("83000", "83100", "83200"), "83", "Provence-Alpes-Côte d'Azur", 1.7),
    ("Le Havre", ("76600", "76610", "76620"), "76", "Normandie", 1.6),
    ("Grenoble", ("38000", "38100"), "38", "Auvergne-Rhône-Alpes", 1.6),
    ("Dijon", ("21000",), "21", "Bourgogne-Franche-Comté", 1.6),
    ("Angers", ("49000", "49100"), "49", "Pays de la Loire", 1.5),
    ("Nîmes", ("30000", "30900"), "30", "Occitanie", 1.5),
    ("Villeurbanne", ("69100",), "69", "Auvergne-Rhône-Alpes", 1.5),
    ("Clermont-Ferrand", ("63000", "63100"), "63", "Auvergne-Rhône-Alpes", 1.4),
    ("Le Mans", ("72000", "72100"), "72", "Pays de la Loire", 1.4),
    ("Aix-en-Provence", ("13090", "13100", "13290"), "13", "Provence-Alpes-Côte d'Azur", 1.4),
    ("Brest", ("29200",), "29", "Bretagne", 1.3),
    ("Tours", ("37000", "37100", "37200"), "37", "Centre-Val de Loire", 1.3),
    ("Amiens", ("80000", "80080", "80090"), "80", "Hauts-de-France", 1.3),
    ("Limoges", ("87000", "87100", "87280"), "87", "Nouvelle-Aquitaine", 1.3),
    ("Annecy", ("74000", "74370", "74960"), "74", "Auvergne-Rhône-Alpes", 1.3),
    ("Perpignan", ("66000", "66100"), "66", "Occitanie", 1.2),
    ("Boulogne-Billancourt", ("92100",), "92", "Île-de-France", 1.2),
    ("Metz", ("57000", "57050", "57070"), "57", "Grand Est", 1.2),
    ("Besançon", ("25000",), "25", "Bourgogne-Franche-Comté", 1.2),
    ("Orléans", ("45000", "45100"), "45", "Centre-Val de Loire", 1.1),
    ("Saint-Denis", ("93200", "93210"), "93", "Île-de-France", 1.1),
    ("Argenteuil", ("95100",), "95", "Île-de-France", 1.1),
    ("Rouen", ("76000", "76100"), "76", "Normandie", 1.1),
    ("Mulhouse", ("68100", "68200"), "68", "Grand Est", 1.1),
    ("Montreuil", ("93100",), "93", "Île-de-France", 1.1),
    ("Caen", ("14000",), "14", "Normandie", 1.0),
    ("Nancy", ("54000", "54100"), "54", "Grand Est", 1.0),
    ("Saint-Paul", ("97460",), "974", "La Réunion", 0.5),
    ("Roubaix", ("59100",), "59", "Hauts-de-France", 0.9),
    ("Tourcoing", ("59200",), "59", "Hauts-de-France", 0.9),
    ("Nanterre", ("92000",), "92", "Île-de-France", 0.9),
    ("Vitry-sur-Seine", ("94400",), "94", "Île-de-France", 0.9),
    ("Créteil", ("94000",), "94", "Île-de-France", 0.9),
    ("Avignon", ("84000",), "84", "Provence-Alpes-Côte d'Azur", 0.9),
    ("Poitiers", ("86000",), "86", "Nouvelle-Aquitaine", 0.9),
    ("Aubervilliers", ("93300",), "93", "Île-de-France", 0.8),
    ("Versailles", ("78000",), "78", "Île-de-France", 0.8),
    ("Pau", ("64000",), "64", "Nouvelle-Aquitaine", 0.8),
    ("Calais", ("62100",), "62", "Hauts-de-France", 0.7),
    ("La Rochelle", ("17000",), "17", "Nouvelle-Aquitaine", 0.7),
    ("Saint-Maur-des-Fossés", ("94100", "94210"), "94", "Île-de-France", 0.7),
    ("Cannes", ("06150", "06400"), "06", "Provence-Alpes-Côte d'Azur", 0.7),
    ("Antibes", ("06600",), "06", "Provence-Alpes-Côte d'Azur", 0.7),
    ("Colmar", ("68000",), "68", "Grand Est", 0.7),
    ("Ajaccio", ("20000", "20090"), "2A", "Corse", 0.6),
    ("Bastia", ("20200", "20600"), "2B", "Corse", 0.4),
    ("Quimper", ("29000",), "29", "Bretagne", 0.6),
    ("Lorient", ("56100",), "56", "Bretagne", 0.5),
    ("Vannes", ("56000",), "56", "Bretagne", 0.5),
    ("Saint-Malo", ("35400",), "35", "Bretagne", 0.5),
    ("Bourges", ("18000",), "18", "Centre-Val de Loire", 0.6),
    ("Chartres", ("28000",), "28", "Centre-Val de Loire", 0.4),
    ("Troyes", ("10000",), "10", "Grand Est", 0.6),
    ("Chambéry", ("73000",), "73", "Auvergne-Rhône-Alpes", 0.6),
    ("Valence", ("26000",), "26", "Auvergne-Rhône-Alpes", 0.6),
    ("Niort", ("79000",), "79", "Nouvelle-Aquitaine", 0.6),
    ("Bayonne", ("64100",), "64", "Nouvelle-Aquitaine", 0.5),
    ("Béziers", ("34500",), "34", "Occitanie", 0.7),
    ("Montauban", ("82000",), "82", "Occitanie", 0.5),
    ("Albi", ("81000",), "81", "Occitanie", 0.4),
    ("Carcassonne", ("11000",), "11", "Occitanie", 0.4),
    ("Saint-Nazaire", ("44600",), "44", "Pays de la Loire", 0.6),
    ("La Roche-sur-Yon", ("85000",), "85", "Pays de la Loire", 0.5),
    ("Laval", ("53000",), "53", "Pays de la Loire", 0.4),
    ("Cherbourg-en-Cotentin", ("50100",), "50", "Normandie", 0.5),
    ("Évreux", ("27000",), "27", "Normandie", 0.4),
    ("Beauvais", ("60000",), "60", "Hauts-de-France", 0.5),
    ("Dunkerque", ("59140", "59240"), "59", "Hauts-de-France", 0.8),
    ("Arras", ("62000",), "62", "Hauts-de-France", 0.4),
    ("Auxerre", ("89000",), "89", "Bourgogne-Franche-Comté", 0.3),
    ("Belfort", ("90000",), "90", "Bourgogne-Franche-Comté", 0.4),
    ("Chalon-sur-Saône", ("71100",), "71", "Bourgogne-Franche-Comté", 0.4),
    ("Bourg-en-Bresse", ("01000",), "01", "Auvergne-Rhône-Alpes", 0.4),
    ("Gap", ("05000",), "05", "Provence-Alpes-Côte d'Azur", 0.3),
    ("Digne-les-Bains", ("04000",), "04", "Provence-Alpes-Côte d'Azur", 0.2),
    ("Saint-Germain-en-Laye", ("78100",), "78", "Île-de-France", 0.4),
    ("Neuilly-sur-Seine", ("92200",), "92", "Île-de-France", 0.5),
    ("Issy-les-Moulineaux", ("92130",), "92", "Île-de-France", 0.6),
    ("Levallois-Perret", ("92300",), "92", "Île-de-France", 0.6),
    ("Évry-Courcouronnes", ("91000", "91080"), "91", "Île-de-France", 0.6),
    ("Cergy", ("95000", "95800"), "95", "Île-de-France", 0.6),
    ("Meaux", ("77100",), "77", "Île-de-France", 0.5),
    ("Sainte-Geneviève-des-Bois", ("91700",), "91", "Île-de-France", 0.3),
    ("L'Haÿ-les-Roses", ("94240",), "94", "Île-de-France", 0.3),
    ("Saint-Jean-de-Luz", ("64500",), "64", "Nouvelle-Aquitaine", 0.2),
    ("Le Puy-en-Velay", ("43000",), "43", "Auvergne-Rhône-Alpes", 0.2),
)

#: Landline prefix by region (French numbering plan: 01 Paris region, 02 north-west...).
REGION_LANDLINE_PREFIX: dict[str, str] = {
    "Île-de-France": "01",
    "Bretagne": "02",
    "Normandie": "02",
    "Pays de la Loire": "02",
    "Centre-Val de Loire": "02",
    "La Réunion": "0262",
    "Hauts-de-France": "03",
    "Grand Est": "03",
    "Bourgogne-Franche-Comté": "03",
    "Auvergne-Rhône-Alpes": "04",
    "Provence-Alpes-Côte d'Azur": "04",
    "Corse": "04",
    "Occitanie": "05",
    "Nouvelle-Aquitaine": "05",
}

STREET_TYPES: tuple[tuple[str, float], ...] = (
    ("rue", 0.55), ("avenue", 0.14), ("boulevard", 0.07), ("place", 0.04), ("allée", 0.05),
    ("impasse", 0.04), ("chemin", 0.04), ("route", 0.03), ("quai", 0.02), ("cours", 0.02),
)
#: How each street type is abbreviated in hand-typed addresses.
STREET_ABBREV: dict[str, tuple[str, ...]] = {
    "rue": ("r.", "r", "RUE"),
    "avenue": ("av.", "av", "ave", "AV"),
    "boulevard": ("bd", "bld", "BD", "boul."),
    "place": ("pl.", "pl", "PL"),
    "allée": ("all.", "allee", "ALL"),
    "impasse": ("imp.", "imp", "IMP"),
    "chemin": ("ch.", "chem.", "CHE"),
    "route": ("rte", "RTE"),
    "quai": ("q.", "QU"),
    "cours": ("crs", "CRS"),
}
STREET_NAMES: tuple[str, ...] = (
    "de la République", "Victor Hugo", "Jean Jaurès", "de la Gare", "du Général de Gaulle",
    "Pasteur", "de l'Église", "des Écoles", "du Moulin", "de la Paix", "Gambetta", "Voltaire",
    "Jules Ferry", "Émile Zola", "de la Liberté", "Nationale", "des Lilas", "du Château",
    "Saint-Martin", "des Tilleuls", "Carnot", "Foch", "de Verdun", "Georges Clemenceau",
    "de la Mairie", "du Stade", "Paul Bert", "Anatole France", "des Acacias", "du Commerce",
    "Sadi Carnot", "Lamartine", "Denfert-Rochereau", "de Bretagne", "des Roses", "du Port",
    "Aristide Briand", "du 8 Mai 1945", "du 11 Novembre", "de la Fontaine", "des Peupliers",
    "Louis Pasteur", "Jean Moulin", "Charles de Gaulle", "de Paris", "des Vignes",
    "Marcel Pagnol", "de la Poste", "du Marché", "des Prés", "Albert Camus", "Molière",
    "Pierre et Marie Curie", "des Martyrs", "de l'Hôtel de Ville", "Saint-Exupéry",
    "Edmond Rostand", "des Cèdres", "du Maréchal Leclerc", "de Lattre de Tassigny",
)
ADDRESS_LINE2: tuple[str, ...] = (
    "Appt 12", "Apt 3", "Bât. B", "Bâtiment A", "Résidence les Pins", "Esc. 2", "3e étage",
    "Porte 14", "Résidence du Parc", "Chez M. Durand", "Lieu-dit la Croix", "BP 42", "Villa 7",
)

# --------------------------------------------------------------------------- e-mail
#: (domain, weight) of personal e-mail providers used in France.
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.36), ("orange.fr", 0.12), ("hotmail.fr", 0.09), ("hotmail.com", 0.04),
    ("yahoo.fr", 0.07), ("free.fr", 0.07), ("sfr.fr", 0.05), ("laposte.net", 0.05),
    ("outlook.fr", 0.05), ("wanadoo.fr", 0.03), ("icloud.com", 0.03), ("live.fr", 0.02),
    ("neuf.fr", 0.01), ("bbox.fr", 0.01),
)
#: Common misspellings of domains, as typed at a shop counter or on a phone.
DOMAIN_TYPOS: dict[str, tuple[str, ...]] = {
    "gmail.com": ("gmial.com", "gmail.fr", "gmal.com", "gmail.co", "gmaill.com"),
    "orange.fr": ("orang.fr", "orange.com", "ornage.fr"),
    "hotmail.fr": ("hotmial.fr", "hotmail.fe", "hotmal.fr", "homail.fr"),
    "hotmail.com": ("hotmial.com", "hotmail.co"),
    "yahoo.fr": ("yaho.fr", "yahoo.com", "yahooo.fr"),
    "free.fr": ("fre.fr", "free.com"),
    "sfr.fr": ("srf.fr", "sfr.com"),
    "laposte.net": ("laposte.fr", "lapost.net"),
    "outlook.fr": ("outlok.fr", "outlook.com"),
    "wanadoo.fr": ("wanado.fr", "wanadoo.com"),
    "icloud.com": ("iclou.com", "icloud.fr"),
    "live.fr": ("live.com", "liv.fr"),
    "neuf.fr": ("neuf.com",),
    "bbox.fr": ("box.fr",),
}
PLUS_TAGS: tuple[str, ...] = ("shop", "promo", "newsletter", "boutique", "achats", "pub", "fid")

# --------------------------------------------------------------------------- products
#: (category, weight, median unit price in euros)
CATEGORIES: tuple[tuple[str, float, float], ...] = (
    ("mode_femme", 0.22, 35.0),
    ("mode_homme", 0.14, 38.0),
    ("enfant", 0.12, 20.0),
    ("chaussures", 0.10, 55.0),
    ("beaute", 0.12, 18.0),
    ("maison", 0.12, 25.0),
    ("sport", 0.08, 30.0),
    ("accessoires", 0.10, 15.0),
)

CRM_REASONS: tuple[str, ...] = (
    "suivi_livraison", "retour_produit", "remboursement", "points_fidelite", "reclamation",
    "info_produit", "compte_client", "rgpd_acces", "changement_adresse",
)
WEB_PAGES: tuple[str, ...] = (
    "/", "/femme", "/homme", "/enfant", "/chaussures", "/beaute", "/maison", "/sport",
    "/promotions", "/nouveautes", "/magasins", "/compte", "/panier", "/aide/livraison",
)
# fmt: on

"""The seeded categories and a sensible set of response plans (written by us, not official)."""

# code, 中文名, English name, national class
CATEGORIES = [
    ("flood", "洪涝/城市内涝", "Flood / waterlogging", "natural_disaster"),
    ("earthquake", "地震", "Earthquake", "natural_disaster"),
    ("geological_hazard", "地质灾害", "Geological hazard (landslide, debris flow)", "natural_disaster"),
    ("forest_fire", "森林火灾", "Forest fire", "natural_disaster"),
    ("building_fire", "建筑火灾", "Building fire", "accident"),
    ("traffic_accident", "交通事故", "Traffic accident", "accident"),
    ("hazardous_chemicals", "危险化学品事故", "Hazardous chemicals", "accident"),
    ("mass_casualty", "群体伤亡事件", "Mass casualty", "public_health"),
    ("epidemic", "传染病疫情", "Epidemic", "public_health"),
    ("air_raid", "防空警报/人民防空", "Air-raid alarm / civil defense", "social_security"),
    ("displaced_residents", "群众转移安置", "Displaced residents needing relief", "social_security"),
    ("public_disorder", "群体性事件", "Public disorder", "social_security"),
]

CHECK_ARRIVE = "到达现场并报告 Arrive on scene and report"
CHECK_CASUALTIES = "核实伤亡人数 Confirm casualties"

# category, severity range, kinds, checklist
PLANS = [
    ("flood", (1, 2), ["water", "civil_affairs", "health", "civil_air_defense"],
     [CHECK_ARRIVE, "启动排涝泵站 Start drainage pumps", "转移低洼区群众 Evacuate low-lying areas", CHECK_CASUALTIES]),
    ("flood", (3, 4), ["water"], [CHECK_ARRIVE, "启动排涝泵站 Start drainage pumps"]),
    ("earthquake", (1, 2), ["earthquake", "fire", "health", "civil_affairs", "civil_air_defense"],
     [CHECK_ARRIVE, "评估震情 Assess damage", "搜救被困人员 Search and rescue", "开放应急避难场所 Open shelters"]),
    ("earthquake", (3, 4), ["earthquake"], [CHECK_ARRIVE, "评估震情 Assess damage"]),
    ("geological_hazard", (1, 4), ["earthquake", "fire", "civil_affairs"],
     [CHECK_ARRIVE, "划定危险区 Cordon the danger zone", "转移受威胁群众 Evacuate residents at risk"]),
    ("forest_fire", (1, 4), ["fire", "civil_affairs"], [CHECK_ARRIVE, "设置隔离带 Cut firebreaks"]),
    ("building_fire", (1, 2), ["fire", "health", "civil_affairs"], [CHECK_ARRIVE, "疏散人员 Evacuate", CHECK_CASUALTIES]),
    ("building_fire", (3, 4), ["fire"], [CHECK_ARRIVE, "疏散人员 Evacuate"]),
    ("traffic_accident", (1, 4), ["fire", "health"], [CHECK_ARRIVE, "救治伤员 Treat the injured"]),
    ("hazardous_chemicals", (1, 4), ["fire", "health", "civil_air_defense"],
     [CHECK_ARRIVE, "划定警戒区 Set the cordon", "监测有毒气体 Monitor toxic gas"]),
    ("mass_casualty", (1, 4), ["health", "fire", "civil_affairs"], [CHECK_ARRIVE, "分检伤员 Triage casualties"]),
    ("epidemic", (1, 4), ["health", "civil_affairs"], [CHECK_ARRIVE, "流行病学调查 Epidemiological survey"]),
    ("air_raid", (1, 4), ["civil_air_defense", "civil_affairs", "health"],
     [CHECK_ARRIVE, "开放人防工程 Open air-raid shelters", "组织群众疏散 Organise evacuation"]),
    ("displaced_residents", (1, 4), ["civil_affairs", "health"],
     [CHECK_ARRIVE, "开放安置点 Open relief sites", "发放生活物资 Distribute supplies"]),
]
# public_disorder has no plan on purpose: it is police business; the command center assigns by hand.

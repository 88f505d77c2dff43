"""Who and what the Nanhu demo is made of: the fund, its people, projects, donors and grants.

The people 苗宇浩, 顾阿姨 and 赵先生 are in the community's article; everyone else is invented.
"""

from __future__ import annotations

from datetime import date

from ledger.domain.money import parse_yuan

FUND_NAME = "南湖未来社区共富基金"
TARGET_FEN = parse_yuan("3000000.00")
# The demo year: December 2025 to November 2026, with December 2025 closed.
YEAR_START = date(2025, 12, 1)
YEAR_END = date(2026, 11, 20)
CLOSED_MONTH = "2025-12"

COMMITTEE = ["苗宇浩", "沈建国", "陆雅琴", "钱文涛", "周晓梅"]
TREASURER = "徐佳怡"
ADVISER = "朱德明"
AUDITOR = "吴振华"

# code, name, English name, implementing organisation, description
PROJECTS = [
    (
        "health",
        "健康同行 · 义诊到家",
        "Healthy Together: clinics at your door",
        "嘉兴市第一医院",
        "嘉兴市第一、第二医院和海警医院专家每月在社区健康小屋义诊，配智能设备。",
    ),
    (
        "noodles",
        "一碗长寿面 · 邻里伙伴计划",
        "A Bowl of Longevity Noodles",
        "南湖宾馆",
        "每月15日南湖宾馆厨师为当月生日的70岁以上居民集体过生日。",
    ),
    (
        "science",
        "小小科学家 · 育苗项目",
        "Little Scientists",
        "南湖区青少年科技活动中心",
        "面向社区儿童的科学实践活动。",
    ),
    (
        "pairing",
        "结对连心 · 帮扶项目",
        "Hearts in Pairs",
        "南湖街道社会工作站",
        "对困难家庭开展结对帮扶。",
    ),
    (
        "redboat",
        "守护红船 · 南湖有礼",
        "Guarding the Red Boat",
        "南湖区文明实践中心",
        "文明实践与红色文化传承活动。",
    ),
    (
        "barber",
        "益剪倾心 · 周五理发室",
        "Friday Barbershop",
        "益剪倾心志愿服务队",
        "每周五为老年居民免费理发。",
    ),
    ("stage", "幸福舞台 · 展风采", "Happiness Stage", "南湖未来社区文体队", "居民文艺展演。"),
]

# name, kind, disclosure, contact, [(amount, date, channel, project code or None)]
Gift = tuple[str, date, str, str | None]
INSTITUTIONS: list[tuple[str, str, str, dict[str, str] | None, list[Gift]]] = [
    (
        "南湖街道办事处",
        "government",
        "named",
        None,
        [("1200000.00", date(2025, 12, 2), "bank_transfer", None)],
    ),
    (
        "嘉兴市南湖区慈善基金会",
        "foundation",
        "named",
        None,
        [
            ("500000.00", date(2025, 12, 3), "bank_transfer", None),
            ("300000.00", date(2025, 12, 3), "bank_transfer", "health"),
        ],
    ),
    (
        "南湖宾馆",
        "enterprise",
        "named",
        {"phone": "0573-82000000"},
        [("200000.00", date(2025, 12, 5), "bank_transfer", "noodles")],
    ),
    (
        "嘉兴红船文旅有限公司",
        "enterprise",
        "named",
        None,
        [("150000.00", date(2025, 12, 8), "bank_transfer", "redboat")],
    ),
    (
        "禾城科技有限公司",
        "enterprise",
        "masked",
        None,
        [("300000.00", date(2025, 12, 9), "bank_transfer", None)],
    ),
    (
        "南湖区美发美容行业协会",
        "community_org",
        "named",
        None,
        [("30000.00", date(2025, 12, 10), "bank_transfer", "barber")],
    ),
    (
        "新湖绿都业主委员会",
        "community_org",
        "named",
        None,
        [("50000.00", date(2025, 12, 12), "wechat_pay", None)],
    ),
]

# Invented residents, except 顾阿姨 and 赵先生, who are in the article.
RESIDENTS = [
    ("顾阿姨", "named"),
    ("赵志强", "masked"),
    ("欧阳明华", "masked"),
    ("李秀英", "named"),
    ("王建华", "anonymous"),
    ("张伟", "masked"),
    ("刘桂兰", "named"),
    ("陈国平", "masked"),
    ("杨丽", "anonymous"),
    ("黄志明", "named"),
    ("吴淑珍", "masked"),
    ("周强", "named"),
    ("徐海燕", "anonymous"),
    ("孙立新", "masked"),
    ("马晓东", "named"),
    ("朱红梅", "masked"),
    ("胡建军", "named"),
    ("郭美玲", "anonymous"),
    ("何振宇", "masked"),
    ("林小芳", "named"),
    ("司马文", "masked"),
    ("David Chen", "masked"),
    ("沈阿婆", "anonymous"),
    ("褚卫东", "named"),
]

GIFT_AMOUNTS = [
    "100.00",
    "200.00",
    "500.00",
    "520.00",
    "666.66",
    "888.88",
    "1000.00",
    "1314.00",
    "2000.00",
    "5000.00",
    "8888.00",
    "10000.00",
]


# code, amount, purpose, proposer index
GRANTS = [
    ("health", "360000.00", "2026年度每月义诊：设备、耗材与专家交通", 0),
    ("noodles", "230000.00", "2026年度每月15日集体生日长寿面", 1),
    ("science", "150000.00", "2026年度小小科学家活动", 2),
    ("pairing", "300000.00", "2026年度困难家庭结对帮扶", 3),
    ("redboat", "160000.00", "2026年度守护红船文明实践活动", 4),
    ("barber", "45000.00", "2026年度周五理发室工具与耗材", 0),
    ("stage", "120000.00", "2026年度幸福舞台展演", 1),
]


# A regular expense: project code, (lowest, highest) whole yuan, day of the month, payee,
# what it paid for ("{month}" is the month's number), category, payee kind.
Planned = tuple[str, tuple[int, int], int, str, str, str, str]
ORG, PROGRAMME = "organisation", "programme"

# Every month, in this order (the amounts are drawn in this order: the demo's figures depend on it).
MONTHLY: list[Planned] = [
    ("noodles", (14000, 17500), 15, "南湖宾馆", "{month}月集体生日长寿面", PROGRAMME, ORG),
    (
        "health",
        (18000, 24000),
        8,
        "嘉兴市第一医院",
        "{month}月健康小屋义诊耗材与专家交通",
        PROGRAMME,
        ORG,
    ),
    (
        "science",
        (8000, 11000),
        20,
        "南湖区青少年科技活动中心",
        "{month}月小小科学家活动",
        PROGRAMME,
        ORG,
    ),
    ("pairing", (5000, 7000), 10, "王桂英", "结对帮扶生活补助", PROGRAMME, "individual"),
    (
        "pairing",
        (12000, 16000),
        10,
        "南湖街道社会工作站",
        "{month}月结对帮扶走访与物资",
        PROGRAMME,
        ORG,
    ),
    ("stage", (7000, 9000), 25, "南湖未来社区文体队", "{month}月幸福舞台展演", PROGRAMME, ORG),
]
# In December, March, June and September.
QUARTERLY: Planned = (
    "redboat",
    (25000, 32000),
    18,
    "南湖区文明实践中心",
    "守护红船季度活动",
    PROGRAMME,
    ORG,
)
# Every Friday (the day of the month is the Friday's).
FRIDAY_BARBER: Planned = (
    "barber",
    (450, 700),
    1,
    "嘉兴美发用品商行",
    "周五理发室工具与耗材",
    PROGRAMME,
    ORG,
)
# Printing the monthly notice: a management cost.
PRINTING: Planned = ("stage", (300, 500), 28, "南湖印务", "{month}月公示打印", "management", ORG)
